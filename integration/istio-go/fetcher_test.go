package istiogo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"istio.io/istio/pkg/wasm"
)

// ociImage is one image integration/oci/build.py pushed (KMF_OCI_IMAGES): its reference and manifest digest.
type ociImage struct {
	Reference string `json:"reference"`
	Digest    string `json:"digest"`
}

// The forms of the image the project publishes or documents (integration/oci/build.py), each read by a different
// branch of Istio's fetcher (pkg/wasm/imagefetcher.go).
var imageVariants = []string{
	"compat-oci",    // default: OCI media types, one tar+gzip layer holding plugin.wasm (extractOCIStandardImage)
	"compat-docker", // --docker: the same image with Docker's media types (extractDockerImage)
	"artifact",      // --variant artifact: the Wasm OCI artifact, the module as a raw layer (extractOCIArtifactImage)
}

func ociImages(t *testing.T) map[string]ociImage {
	t.Helper()
	text := os.Getenv("KMF_OCI_IMAGES")
	if text == "" {
		t.Skip("KMF_OCI_IMAGES not set: integration/tests/test_istio_go.py pushes the images to a loopback registry")
	}
	images := map[string]ociImage{}
	if err := json.Unmarshal([]byte(text), &images); err != nil {
		t.Fatalf("KMF_OCI_IMAGES: %v", err)
	}
	for _, variant := range imageVariants {
		if _, ok := images[variant]; !ok {
			t.Fatalf("KMF_OCI_IMAGES has no %q image: %v", variant, images)
		}
	}
	return images
}

// newCache is the module cache istio-agent uses (pkg/wasm LocalFileCache), in a fresh directory. The loopback
// registry speaks plain HTTP: Istio's fetcher falls back to it by itself ("server gave HTTP response").
func newCache(t *testing.T) *wasm.LocalFileCache {
	cache := wasm.NewLocalFileCache(t.TempDir(), wasm.Options{})
	t.Cleanup(cache.Cleanup)
	return cache
}

// TestImageFetcherExtractsTheModule: Istio's image fetcher, on each published form of the image, returns exactly
// the module we built, and reports the manifest digest build.py printed (the digest a WasmPlugin's sha256 pins).
func TestImageFetcherExtractsTheModule(t *testing.T) {
	images := ociImages(t)
	module := wasmModule(t)
	for _, variant := range imageVariants {
		image := images[variant]
		t.Run(variant, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			fetcher := wasm.NewImageFetcher(ctx, wasm.ImageFetcherOption{Insecure: true})
			fetch, digest, err := fetcher.PrepareFetch(image.Reference)
			if err != nil {
				t.Fatalf("PrepareFetch(%s): %v", image.Reference, err)
			}
			if "sha256:"+digest != image.Digest {
				t.Errorf("manifest digest %s, build.py/registry said %s", digest, image.Digest)
			}
			got, err := fetch()
			if err != nil {
				t.Fatalf("fetching the module from %s: %v", image.Reference, err)
			}
			if !bytes.Equal(got, module) {
				t.Fatalf("the extracted module (%d bytes, sha256 %s) is not the module built (%d bytes, sha256 %s)",
					len(got), sha256Hex(got), len(module), sha256Hex(module))
			}
		})
	}
}

// TestAgentCacheChecksTheDigest: through istio-agent's cache (what turns a WasmPlugin's oci:// URL into a local
// file), the right digest gives a file holding the module, and a wrong digest is refused before any module is
// written. Pinning by tag@digest in the URL is checked too.
func TestAgentCacheChecksTheDigest(t *testing.T) {
	images := ociImages(t)
	module := wasmModule(t)
	for _, variant := range imageVariants {
		image := images[variant]
		t.Run(variant, func(t *testing.T) {
			digestHex := strings.TrimPrefix(image.Digest, "sha256:")
			url := "oci://" + image.Reference

			cache := newCache(t)
			path, err := cache.Get(url, wasm.GetOptions{Checksum: digestHex, RequestTimeout: time.Minute, PullPolicy: wasm.Always})
			if err != nil {
				t.Fatalf("with the right digest: %v", err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, module) {
				t.Fatalf("the cached module %s is not the module built", path)
			}

			// The image referenced by digest (repo@sha256:...), as istio/wasmplugin.yaml recommends.
			repo := image.Reference[:strings.LastIndex(image.Reference, ":")]
			path, err = newCache(t).Get("oci://"+repo+"@"+image.Digest, wasm.GetOptions{RequestTimeout: time.Minute})
			if err != nil {
				t.Fatalf("by digest: %v", err)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, module) {
				t.Fatalf("the module fetched by digest is not the module built")
			}

			wrong := sha256Hex([]byte("not the kafka-mtls-filter image"))
			cache = newCache(t)
			_, err = cache.Get(url, wasm.GetOptions{Checksum: wrong, RequestTimeout: time.Minute, PullPolicy: wasm.Always})
			if err == nil || !strings.Contains(err.Error(), "does not match") {
				t.Fatalf("a wrong digest must be refused with a checksum error, got %v", err)
			}
			// The module's own sha256 is not the image's digest either: a WasmPlugin sha256 for an oci:// URL is the
			// manifest digest (the one build.py prints), not the module's.
			_, err = newCache(t).Get(url, wasm.GetOptions{Checksum: sha256Hex(module), RequestTimeout: time.Minute})
			if err == nil || !strings.Contains(err.Error(), "does not match") {
				t.Fatalf("the module's sha256 in place of the manifest digest must be refused, got %v", err)
			}
		})
	}
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
