package istiogo

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	networkrbac "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/rbac/v3"
	networkwasm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/wasm/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	wasmext "github.com/envoyproxy/go-control-plane/envoy/extensions/wasm/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	extensions "istio.io/api/extensions/v1alpha1"
	"istio.io/istio/pilot/pkg/config/kube/crd"
	"istio.io/istio/pilot/pkg/model"
	v3 "istio.io/istio/pilot/pkg/xds/v3"
	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pkg/config"
	"istio.io/istio/pkg/config/constants"
	"istio.io/istio/pkg/config/schema/collections"
	"istio.io/istio/pkg/wasm"
)

const (
	brokerIP   = "10.40.0.5"
	kafkaPort  = 9092
	tcpProxy   = "envoy.filters.network.tcp_proxy"
	wasmFilter = "envoy.filters.network.wasm"
	// The ECDS name Istio gives the WasmPlugin kafka/kafka-mtls-filter: WasmPlugins are translated to
	// TrafficExtensions (since Istio 1.29's extensions controller), whose resources are named like this.
	wasmPluginECDSName = "extensions.istio.io/trafficextension/kafka.kafka-mtls-filter~istio-translated-wasmplugin"
)

// The broker's sidecar, as istio-agent introduces it to istiod (pod kafka-0 in testdata/mesh.yaml).
var (
	brokerProxyID = fmt.Sprintf("sidecar~%s~kafka-0.kafka~kafka.svc.cluster.local", brokerIP)
	brokerNode    = model.NodeMetadata{
		ClusterID:      constants.DefaultClusterName,
		Namespace:      "kafka",
		Labels:         map[string]string{"app": "kafka"},
		WorkloadName:   "kafka",
		ServiceAccount: "kafka",
		InstanceIPs:    []string{brokerIP},
	}
)

const envoyFilterWarning = "EnvoyFilter exposes internal implementation details that may change at any time. " +
	"Prefer other APIs if possible, and exercise extreme caution, especially around upgrades."

// parseManifests reads repository manifests the way istiod admits them: every document must be a kind Istio
// knows, and pass Istio's own validation (the same code as its validating webhook), warnings included.
func parseManifests(t *testing.T, files ...string) []config.Config {
	t.Helper()
	var configs []config.Config
	for _, file := range files {
		parsed, unknown, err := crd.ParseInputs(string(readRepoFile(t, file)))
		if err != nil {
			t.Fatalf("%s: Istio refuses it: %v", file, err)
		}
		if len(unknown) != 0 {
			t.Fatalf("%s: kinds Istio does not know: %v", file, unknown)
		}
		for _, c := range parsed {
			schema, ok := collections.Pilot.FindByGroupVersionAliasesKind(c.GroupVersionKind)
			if !ok {
				t.Fatalf("%s: no schema for %v", file, c.GroupVersionKind)
			}
			warning, err := schema.ValidateConfig(c)
			if err != nil {
				t.Fatalf("%s: %s/%s: Istio validation: %v", file, c.Namespace, c.Name, err)
			}
			if warning != nil {
				// Every EnvoyFilter gets this one; any other warning fails.
				text := strings.TrimSpace(strings.Replace(warning.Error(), envoyFilterWarning, "", 1))
				if text != "" {
					t.Fatalf("%s: %s/%s: Istio validation warning: %v", file, c.Namespace, c.Name, warning)
				}
				t.Logf("%s: %s/%s: Istio's warning for every EnvoyFilter: %v", file, c.Namespace, c.Name, warning)
			}
			c.CreationTimestamp = time.Unix(1700000000, 0)
			configs = append(configs, c)
		}
	}
	return configs
}

// generated is what istiod sends the broker's sidecar.
type generated struct {
	listeners map[string]*listener.Listener
	clusters  map[string]*cluster.Cluster
	ecds      map[string]*core.TypedExtensionConfig
	// the raw ECDS resources, as istio-agent receives them
	ecdsResources []*anypb.Any
}

// startIstiod runs Istio's fake discovery server (pilot/test/xds, what Istio's own xDS tests use: the real
// config generation, push context and ADS server, fed from in-memory config and a fake Kubernetes API) with the
// mesh of testdata/mesh.yaml and the given Istio configuration.
func startIstiod(t *testing.T, configs []config.Config) *xds.FakeDiscoveryServer {
	t.Helper()
	mesh, err := os.ReadFile(filepath.Join("testdata", "mesh.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return xds.NewFakeDiscoveryServer(t, xds.FakeOptions{
		KubernetesObjectString: string(mesh),
		Configs:                configs,
	})
}

// fetchAll asks istiod for the broker sidecar's listeners, clusters and extension configurations over ADS, the way
// Envoy does: LDS and CDS by wildcard, then ECDS for the names the listeners refer to.
func fetchAll(t *testing.T, s *xds.FakeDiscoveryServer) generated {
	t.Helper()
	out := generated{
		listeners: map[string]*listener.Listener{},
		clusters:  map[string]*cluster.Cluster{},
		ecds:      map[string]*core.TypedExtensionConfig{},
	}
	ads := s.ConnectADS().WithID(brokerProxyID).WithMetadata(brokerNode)
	for _, res := range ads.WithType(v3.ListenerType).RequestResponseAck(t, nil).Resources {
		l := &listener.Listener{}
		if err := res.UnmarshalTo(l); err != nil {
			t.Fatal(err)
		}
		out.listeners[l.Name] = l
	}
	for _, res := range ads.WithType(v3.ClusterType).RequestResponseAck(t, nil).Resources {
		c := &cluster.Cluster{}
		if err := res.UnmarshalTo(c); err != nil {
			t.Fatal(err)
		}
		out.clusters[c.Name] = c
	}
	var names []string
	for _, l := range out.listeners {
		for _, chain := range l.FilterChains {
			for _, f := range chain.Filters {
				if f.GetConfigDiscovery() != nil && !slices.Contains(names, f.Name) {
					names = append(names, f.Name)
				}
			}
		}
	}
	if len(names) > 0 {
		resp := ads.WithType(v3.ExtensionConfigurationType).RequestResponseAck(t, &discovery.DiscoveryRequest{
			ResourceNames: names,
		})
		out.ecdsResources = resp.Resources
		for _, res := range resp.Resources {
			ec := &core.TypedExtensionConfig{}
			if err := res.UnmarshalTo(ec); err != nil {
				t.Fatal(err)
			}
			out.ecds[ec.Name] = ec
		}
	}
	return out
}

// inboundKafkaChain is the filter chain of the sidecar's inbound listener that takes mTLS connections to port 9092.
func inboundKafkaChain(t *testing.T, g generated) *listener.FilterChain {
	t.Helper()
	inbound := g.listeners["virtualInbound"]
	if inbound == nil {
		t.Fatalf("no virtualInbound listener; listeners: %v", mapKeys(g.listeners))
	}
	var found []*listener.FilterChain
	for _, chain := range inbound.FilterChains {
		m := chain.GetFilterChainMatch()
		if m.GetDestinationPort().GetValue() == kafkaPort {
			found = append(found, chain)
		}
	}
	if len(found) != 1 {
		names := []string{}
		for _, c := range found {
			names = append(names, c.Name)
		}
		t.Fatalf("want exactly one inbound chain for port %d (STRICT mTLS, TCP port), got %v", kafkaPort, names)
	}
	return found[0]
}

func filterNames(chain *listener.FilterChain) []string {
	var names []string
	for _, f := range chain.Filters {
		names = append(names, f.Name)
	}
	return names
}

func mapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// assertMutualTLS: the chain terminates TLS with the sidecar's mesh certificate and requires a client certificate
// verified against the mesh CA, so the filter always has a verified peer certificate to read the SPIFFE ID from.
func assertMutualTLS(t *testing.T, chain *listener.FilterChain) *tls.DownstreamTlsContext {
	t.Helper()
	if got := chain.GetFilterChainMatch().GetTransportProtocol(); got != "tls" {
		t.Errorf("the port %d chain matches transport %q, want tls", kafkaPort, got)
	}
	ts := chain.GetTransportSocket()
	if ts == nil {
		t.Fatalf("the port %d chain has no transport socket (no mTLS)", kafkaPort)
	}
	ctx := &tls.DownstreamTlsContext{}
	if err := ts.GetTypedConfig().UnmarshalTo(ctx); err != nil {
		t.Fatal(err)
	}
	if !ctx.GetRequireClientCertificate().GetValue() {
		t.Errorf("the port %d chain does not require a client certificate", kafkaPort)
	}
	common := ctx.GetCommonTlsContext()
	if len(common.GetTlsCertificateSdsSecretConfigs()) != 1 || common.GetTlsCertificateSdsSecretConfigs()[0].GetName() != "default" {
		t.Errorf("server certificate: want the workload certificate (SDS \"default\"), got %v", common.GetTlsCertificateSdsSecretConfigs())
	}
	validation := common.GetCombinedValidationContext().GetValidationContextSdsSecretConfig().GetName()
	if validation != "ROOTCA" {
		t.Errorf("client certificates: want validation against the mesh CA (SDS \"ROOTCA\"), got %q", validation)
	}
	return ctx
}

// pluginConfigJSON is the WasmPlugin's pluginConfig as the filter must receive it (JSON of the YAML).
func pluginConfigJSON(t *testing.T) map[string]any {
	t.Helper()
	spec := yamlDocument(t, "istio/wasmplugin.yaml")["spec"].(map[string]any)
	return spec["pluginConfig"].(map[string]any)
}

func configurationJSON(t *testing.T, plugin *wasmext.PluginConfig) map[string]any {
	t.Helper()
	value := &wrapperspb.StringValue{}
	if err := plugin.GetConfiguration().UnmarshalTo(value); err != nil {
		t.Fatalf("the plugin configuration is not a StringValue: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(value.Value), &got); err != nil {
		t.Fatalf("the plugin configuration is not JSON: %v", err)
	}
	return got
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func networkWasm(t *testing.T, ec *core.TypedExtensionConfig) *networkwasm.Wasm {
	t.Helper()
	w := &networkwasm.Wasm{}
	if err := ec.GetTypedConfig().UnmarshalTo(w); err != nil {
		t.Fatalf("extension config %s is not a network Wasm filter (%s): %v", ec.Name, ec.GetTypedConfig().GetTypeUrl(), err)
	}
	return w
}

var wasmPluginManifests = []string{"istio/wasmplugin.yaml", "istio/peerauthentication.yaml", "istio/envoyfilter-buffer-limits.yaml"}

// TestWasmPluginGeneratedConfig: istio/wasmplugin.yaml (with the PeerAuthentication and buffer limits) turned into
// the broker sidecar's configuration by Istio: on the inbound chain of port 9092, behind Istio mTLS, the filter sits
// right before tcp_proxy, delivered by ECDS with the pluginConfig intact, FAIL_CLOSED, the HOST env key, the OCI
// URL for istio-agent to fetch. The listener and extension config are written out (wasmplugin-*.json).
func TestWasmPluginGeneratedConfig(t *testing.T) {
	s := startIstiod(t, parseManifests(t, wasmPluginManifests...))
	g := fetchAll(t, s)
	chain := inboundKafkaChain(t, g)
	assertMutualTLS(t, chain)

	names := filterNames(chain)
	i := slices.Index(names, wasmPluginECDSName)
	if i < 0 || i+1 >= len(names) || names[i+1] != tcpProxy || names[len(names)-1] != tcpProxy {
		t.Fatalf("want the WasmPlugin's filter right before tcp_proxy, the last filter; chain filters: %v", names)
	}
	if names[0] != "istio.metadata_exchange" {
		t.Errorf("Istio's metadata exchange no longer first: %v", names)
	}
	discovery := chain.Filters[i].GetConfigDiscovery()
	if discovery == nil || !slices.Contains(discovery.TypeUrls, "type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm") {
		t.Fatalf("the filter is not an ECDS network Wasm filter: %v", chain.Filters[i])
	}
	// The fallback Istio may put in its place (a deny-all network RBAC) must be an accepted type.
	if !slices.Contains(discovery.TypeUrls, "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC") {
		t.Errorf("network RBAC not accepted in the filter's place: %v", discovery.TypeUrls)
	}

	ec := g.ecds[wasmPluginECDSName]
	if ec == nil {
		t.Fatalf("no extension config %s; got %v", wasmPluginECDSName, mapKeys(g.ecds))
	}
	plugin := networkWasm(t, ec).GetConfig()
	if plugin.GetRootId() != "kafka-mtls-filter" {
		t.Errorf("root_id %q", plugin.GetRootId())
	}
	if got := configurationJSON(t, plugin); !jsonEqual(got, pluginConfigJSON(t)) {
		t.Errorf("pluginConfig changed on the way:\n got %v\nwant %v", got, pluginConfigJSON(t))
	}
	if plugin.GetFailurePolicy() != wasmext.FailurePolicy_FAIL_CLOSED {
		t.Errorf("failure policy %v, want FAIL_CLOSED (failStrategy: FAIL_CLOSE)", plugin.GetFailurePolicy())
	}
	vm := plugin.GetVmConfig()
	if vm.GetRuntime() != "envoy.wasm.runtime.v8" {
		t.Errorf("runtime %q", vm.GetRuntime())
	}
	if vm.GetVmId() != "" {
		t.Errorf("Istio now sets vm_id %q: istio/README.md says it leaves it empty", vm.GetVmId())
	}
	remote := vm.GetCode().GetRemote()
	spec := yamlDocument(t, "istio/wasmplugin.yaml")["spec"].(map[string]any)
	if remote.GetHttpUri().GetUri() != spec["url"] {
		t.Errorf("module URL %q, want the manifest's %q", remote.GetHttpUri().GetUri(), spec["url"])
	}
	env := vm.GetEnvironmentVariables()
	if !slices.Equal(env.GetHostEnvKeys(), []string{"KAFKA_MTLS_FILTER_PASSWORD_SECRET"}) {
		t.Errorf("host_env_keys %v", env.GetHostEnvKeys())
	}
	if env.GetKeyValues()[model.WasmPolicyEnv] != "IfNotPresent" {
		t.Errorf("image pull policy for istio-agent: %v", env.GetKeyValues())
	}

	// The buffer limits EnvoyFilter reaches the inbound listener and the broker's inbound cluster.
	if got := g.listeners["virtualInbound"].GetPerConnectionBufferLimitBytes().GetValue(); got != 105906176 {
		t.Errorf("virtualInbound per_connection_buffer_limit_bytes %d", got)
	}
	inboundCluster := g.clusters[fmt.Sprintf("inbound|%d||", kafkaPort)]
	if inboundCluster == nil {
		t.Fatalf("no inbound cluster for %d: %v", kafkaPort, mapKeys(g.clusters))
	}
	if got := inboundCluster.GetPerConnectionBufferLimitBytes().GetValue(); got != 105906176 {
		t.Errorf("inbound cluster per_connection_buffer_limit_bytes %d", got)
	}

	dir := outDir(t)
	writeJSON(t, dir, "wasmplugin-listener.json", protoJSON(t, g.listeners["virtualInbound"]))
	writeJSON(t, dir, "wasmplugin-chain.json", protoJSON(t, chain))
	writeJSON(t, dir, "wasmplugin-ecds.json", protoJSON(t, ec))
	writeJSON(t, dir, "wasmplugin-inbound-cluster.json", protoJSON(t, inboundCluster))
}

// TestEnvoyFilterGeneratedConfig: istio/envoyfilter-wasm.yaml, the EnvoyFilter form, lands in the same place
// (INSERT_BEFORE tcp_proxy on the inbound port 9092 chain), inline, with the same policy and the local module file.
func TestEnvoyFilterGeneratedConfig(t *testing.T) {
	s := startIstiod(t, parseManifests(t, "istio/envoyfilter-wasm.yaml", "istio/peerauthentication.yaml",
		"istio/envoyfilter-buffer-limits.yaml"))
	g := fetchAll(t, s)
	chain := inboundKafkaChain(t, g)
	assertMutualTLS(t, chain)
	names := filterNames(chain)
	i := slices.Index(names, wasmFilter)
	if i < 0 || i+1 >= len(names) || names[i+1] != tcpProxy || names[len(names)-1] != tcpProxy {
		t.Fatalf("want the EnvoyFilter's wasm filter right before tcp_proxy, the last filter; chain filters: %v", names)
	}
	w := &networkwasm.Wasm{}
	if err := chain.Filters[i].GetTypedConfig().UnmarshalTo(w); err != nil {
		t.Fatal(err)
	}
	plugin := w.GetConfig()
	if got := configurationJSON(t, plugin); !jsonEqual(got, pluginConfigJSON(t)) {
		t.Errorf("the EnvoyFilter's policy differs from the WasmPlugin's:\n got %v\nwant %v", got, pluginConfigJSON(t))
	}
	if plugin.GetFailOpen() || plugin.GetRootId() != "kafka-mtls-filter" || plugin.GetVmConfig().GetVmId() != "kafka-mtls-filter" {
		t.Errorf("fail_open %v root_id %q vm_id %q", plugin.GetFailOpen(), plugin.GetRootId(), plugin.GetVmConfig().GetVmId())
	}
	if got := plugin.GetVmConfig().GetCode().GetLocal().GetFilename(); got != "/var/local/lib/wasm-filters/kafka_mtls_filter.wasm" {
		t.Errorf("module file %q", got)
	}
	if len(g.ecds) != 0 {
		t.Errorf("unexpected extension configs: %v", mapKeys(g.ecds))
	}
	// Only the port 9092 chain carries it.
	for _, other := range g.listeners["virtualInbound"].FilterChains {
		if other != chain && slices.Contains(filterNames(other), wasmFilter) {
			t.Errorf("the filter also landed on chain %s", other.Name)
		}
	}
	dir := outDir(t)
	writeJSON(t, dir, "envoyfilter-listener.json", protoJSON(t, g.listeners["virtualInbound"]))
	writeJSON(t, dir, "envoyfilter-chain.json", protoJSON(t, chain))
}

// agentConvert is istio-agent's step between istiod and Envoy (pkg/wasm MaybeConvertWasmExtensionConfig): every
// Wasm extension config with a remote module is fetched into the local cache and rewritten to the local file, or,
// when the fetch fails, replaced by the fail-strategy's RBAC filter.
func agentConvert(t *testing.T, resources []*anypb.Any, cache wasm.Cache) []*core.TypedExtensionConfig {
	t.Helper()
	converted := slices.Clone(resources)
	if err := wasm.MaybeConvertWasmExtensionConfig(converted, cache); err != nil {
		t.Fatalf("istio-agent would NACK the extension configs: %v", err)
	}
	var out []*core.TypedExtensionConfig
	for _, res := range converted {
		ec := &core.TypedExtensionConfig{}
		if err := res.UnmarshalTo(ec); err != nil {
			t.Fatal(err)
		}
		out = append(out, ec)
	}
	return out
}

// withImage is istio/wasmplugin.yaml pointing at another image (url, and sha256 when given), as a user edits it.
func withImage(t *testing.T, configs []config.Config, url, sha string) []config.Config {
	t.Helper()
	out := make([]config.Config, 0, len(configs))
	for _, c := range configs {
		c = c.DeepCopy()
		if wp, ok := c.Spec.(*extensions.WasmPlugin); ok {
			wp.Url = url
			wp.Sha256 = sha
		}
		out = append(out, c)
	}
	return out
}

// TestFailCloseWhenTheImageCannotBeFetched: FAIL_CLOSE in istio/wasmplugin.yaml, when istio-agent cannot fetch
// the image, makes Istio put a deny-all network RBAC filter (no policy: every connection refused) in the filter's
// place, under the same name, so the chain never runs without the filter. FAIL_OPEN, for contrast, gives allow-all.
func TestFailCloseWhenTheImageCannotBeFetched(t *testing.T) {
	unreachable := "oci://127.0.0.1:9/kafka/kafka-mtls-filter:0.1.0" // the discard port: nothing listens there
	configs := withImage(t, parseManifests(t, wasmPluginManifests...), unreachable, "")
	g := fetchAll(t, startIstiod(t, configs))
	cache := wasm.NewLocalFileCache(t.TempDir(), wasm.Options{})
	t.Cleanup(cache.Cleanup)

	converted := agentConvert(t, g.ecdsResources, cache)
	if len(converted) != 1 || converted[0].Name != wasmPluginECDSName {
		t.Fatalf("want one extension config %s, got %v", wasmPluginECDSName, converted)
	}
	rbac := &networkrbac.RBAC{}
	if err := converted[0].GetTypedConfig().UnmarshalTo(rbac); err != nil {
		t.Fatalf("want a network RBAC filter in place of the module, got %s: %v", converted[0].GetTypedConfig().GetTypeUrl(), err)
	}
	if rbac.GetRules() == nil || len(rbac.GetRules().GetPolicies()) != 0 || rbac.GetRules().GetAction().String() != "ALLOW" {
		t.Fatalf("want deny-all (ALLOW with no policies), got %v", rbac)
	}
	if rbac.GetStatPrefix() != wasm.DefaultDenyStatPrefix {
		t.Errorf("stat prefix %q", rbac.GetStatPrefix())
	}
	writeJSON(t, outDir(t), "wasmplugin-ecds-fail-close.json", protoJSON(t, converted[0]))

	// The same manifest with FAIL_OPEN: allow-all instead (what FAIL_CLOSE protects against).
	for _, c := range configs {
		if wp, ok := c.Spec.(*extensions.WasmPlugin); ok {
			wp.FailStrategy = extensions.FailStrategy_FAIL_OPEN
		}
	}
	g = fetchAll(t, startIstiod(t, configs))
	converted = agentConvert(t, g.ecdsResources, cache)
	rbac = &networkrbac.RBAC{}
	if err := converted[0].GetTypedConfig().UnmarshalTo(rbac); err != nil {
		t.Fatal(err)
	}
	if rbac.GetRules() != nil {
		t.Fatalf("FAIL_OPEN: want allow-all (no rules), got %v", rbac)
	}
}

// TestAgentRewritesTheImageToTheLocalModule: the WasmPlugin pointing at our image in the loopback registry (pinned
// by sha256 = manifest digest, as istio/README.md says), through istiod and istio-agent's conversion: Envoy gets the
// module as a local file holding exactly the module built, the rest of the configuration unchanged. Written out as
// wasmplugin-ecds-local.json for the Envoy run (integration/tests/test_istio_go.py). Then the pluginConfig update
// path: a changed WasmPlugin gives a new extension config (and no new listener) with the new policy.
func TestAgentRewritesTheImageToTheLocalModule(t *testing.T) {
	image := ociImages(t)["compat-oci"]
	module := wasmModule(t)
	manifests := parseManifests(t, wasmPluginManifests...)
	configs := withImage(t, manifests, "oci://"+image.Reference, strings.TrimPrefix(image.Digest, "sha256:"))
	s := startIstiod(t, configs)
	g := fetchAll(t, s)
	// istio-agent's module directory: beside the written configuration, which names the module file in it.
	dir := outDir(t)
	if err := os.MkdirAll(filepath.Join(dir, "wasm-cache"), 0o755); err != nil {
		t.Fatal(err)
	}
	cache := wasm.NewLocalFileCache(filepath.Join(dir, "wasm-cache"), wasm.Options{})
	t.Cleanup(cache.Cleanup)
	converted := agentConvert(t, g.ecdsResources, cache)
	plugin := networkWasm(t, converted[0]).GetConfig()
	file := plugin.GetVmConfig().GetCode().GetLocal().GetFilename()
	if file == "" {
		t.Fatalf("the module was not rewritten to a local file: %v", plugin.GetVmConfig().GetCode())
	}
	if got, err := os.ReadFile(file); err != nil || sha256Hex(got) != sha256Hex(module) {
		t.Fatalf("the local module %s is not the module built (%v)", file, err)
	}
	env := plugin.GetVmConfig().GetEnvironmentVariables()
	for k := range env.GetKeyValues() {
		if strings.HasPrefix(k, "ISTIO_META_") {
			t.Errorf("istio-agent left %s in the VM environment", k)
		}
	}
	if !slices.Equal(env.GetHostEnvKeys(), []string{"KAFKA_MTLS_FILTER_PASSWORD_SECRET"}) {
		t.Errorf("host_env_keys %v", env.GetHostEnvKeys())
	}
	if got := configurationJSON(t, plugin); !jsonEqual(got, pluginConfigJSON(t)) {
		t.Errorf("pluginConfig changed by the agent")
	}
	writeJSON(t, dir, "wasmplugin-ecds-local.json", protoJSON(t, converted[0]))

	// pluginConfig update: a new principal, User:CN=kafka-default (the SPIFFE ID .../ns/kafka/sa/default of the
	// integration harness's mesh-default certificate), may now read the orders* topics.
	updated := pluginConfigJSON(t)
	authz := updated["authorization"].(map[string]any)
	authz["users"] = append(authz["users"].([]any), map[string]any{
		"principal": "User:CN=kafka-default",
		"acls": []any{map[string]any{
			"resource":   map[string]any{"type": "topic", "name": "orders", "patternType": "prefix"},
			"operations": []any{"Read", "Describe"},
		}},
	})
	var changed config.Config
	for _, c := range configs {
		if _, ok := c.Spec.(*extensions.WasmPlugin); ok {
			changed = c.DeepCopy()
		}
	}
	newConfig, err := structpb.NewStruct(updated)
	if err != nil {
		t.Fatal(err)
	}
	changed.Spec.(*extensions.WasmPlugin).PluginConfig = newConfig
	if _, err := s.Store().Update(changed); err != nil {
		t.Fatalf("updating the WasmPlugin in istiod's store: %v", err)
	}
	// The same istiod, after the change: the extension config carries the new policy, the listener is unchanged.
	var g2 generated
	deadline := time.Now().Add(30 * time.Second)
	for {
		g2 = fetchAll(t, s)
		ec := g2.ecds[wasmPluginECDSName]
		if ec != nil && jsonEqual(configurationJSON(t, networkWasm(t, ec).GetConfig()), updated) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("istiod still serves the old pluginConfig 30 s after the WasmPlugin changed")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !jsonEqual(protoJSON(t, inboundKafkaChain(t, g2)), protoJSON(t, inboundKafkaChain(t, g))) {
		t.Errorf("a pluginConfig change altered the listener, not only the extension config")
	}
	converted2 := agentConvert(t, g2.ecdsResources, cache)
	plugin2 := networkWasm(t, converted2[0]).GetConfig()
	if got := configurationJSON(t, plugin2); !jsonEqual(got, updated) {
		t.Errorf("the updated extension config does not carry the new pluginConfig")
	}
	if plugin2.GetVmConfig().GetCode().GetLocal().GetFilename() != file {
		t.Errorf("the module was fetched again into another file for a configuration change")
	}
	// istiod's two extension configs differ in the VM environment (ISTIO_META_WASM_PLUGIN_RESOURCE_VERSION), but
	// istio-agent strips those keys: the VM configuration Envoy gets is the same before and after, so Envoy keys the
	// plugin to the same VMs (only the plugin configuration changed).
	before := networkWasm(t, g.ecds[wasmPluginECDSName]).GetConfig().GetVmConfig().GetEnvironmentVariables()
	after := networkWasm(t, g2.ecds[wasmPluginECDSName]).GetConfig().GetVmConfig().GetEnvironmentVariables()
	if before.GetKeyValues()[model.WasmResourceVersionEnv] == after.GetKeyValues()[model.WasmResourceVersionEnv] {
		t.Errorf("istiod's resource version in the VM environment did not change with the WasmPlugin")
	}
	if vm1, vm2 := protoJSON(t, plugin.GetVmConfig()), protoJSON(t, plugin2.GetVmConfig()); string(vm1) != string(vm2) {
		t.Errorf("after istio-agent, the VM configuration changed with the pluginConfig:\n%s\n%s", vm1, vm2)
	}
	writeJSON(t, dir, "wasmplugin-ecds-local-updated.json", protoJSON(t, converted2[0]))
}
