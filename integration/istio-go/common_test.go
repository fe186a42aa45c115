// Package istiogo runs Istio's own code (a pinned istio.io/istio, see go.mod) on what this repository ships: Istio's
// Wasm image fetcher on the filter's OCI images, and Istio's xDS generation on the manifests in istio/.
//
// integration/tests/test_istio_go.py runs these tests inside the test command and sets the environment:
//
//	KMF_WASM          the module built by integration/build-wasm.sh (default: the release module in target/)
//	KMF_OCI_IMAGES    JSON: variant -> {"reference": "host:port/repo:tag", "digest": "sha256:..."}, images pushed by
//	                  integration/oci/build.py to a loopback registry (the fetcher tests skip without it)
//	KMF_ISTIO_OUT     directory the generated Envoy configuration is written to (default: a temporary directory)
package istiogo

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"

	// Registers every Envoy type, so that protojson can print the Any fields of generated configuration.
	_ "istio.io/istio/pkg/config/xds"
)

// repoRoot is the repository's top directory (this file is integration/istio-go/common_test.go).
func repoRoot(t testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func readRepoFile(t testing.TB, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func wasmModule(t testing.TB) []byte {
	t.Helper()
	path := os.Getenv("KMF_WASM")
	if path == "" {
		path = filepath.Join(repoRoot(t), "target", "wasm32-wasip1", "release", "kafka_mtls_filter.wasm")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the filter's module (integration/build-wasm.sh builds it): %v", err)
	}
	return data
}

// outDir is where generated configuration is written for integration/tests (KMF_ISTIO_OUT).
func outDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("KMF_ISTIO_OUT")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// protoJSON is the proto3 JSON form Envoy reads (Any fields expanded with their @type).
func protoJSON(t testing.TB, m proto.Message) json.RawMessage {
	t.Helper()
	data, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// writeJSON writes value, indented, to dir/name.
func writeJSON(t testing.TB, dir, name string, value any) string {
	t.Helper()
	data, err := json.MarshalIndent(value, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
	return path
}

// yamlDocument reads one YAML document (the first) of a repository file into a generic map.
func yamlDocument(t testing.TB, rel string) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(readRepoFile(t, rel), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}
