//! `kafka-mtls-filter`: the filter's configuration and decisions on the command line, with the filter's own
//! code (the same parser, identity mapper, classifier and authorizer the wasm module runs, and for `explain`
//! the session's own decision path, `authorize`), so what the CLI says is what the filter does
//! (tests/explain_agrees.rs runs each case through both).
//!
//! Exit codes: 0 success (or ALLOWED), 1 error (invalid configuration, refused certificate, unreadable
//! file), 2 DENIED (`explain`), 64 usage error (sysexits EX_USAGE).

mod question;
mod requests;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::ExitCode;

use kafka_mtls_filter::authorize::{self, Asked};
use kafka_mtls_filter::classify::{classify, Classification};
use kafka_mtls_filter::config::{Config, Propagation, RawConfig};
use kafka_mtls_filter::policy::{api_key_by_name, normalize_principal, Mode, RequestCtx};
use kafka_mtls_filter::protocol::acl::WILDCARD_PRINCIPAL;
use kafka_mtls_filter::protocol::{api, api_table};
use kafka_protocol::messages::ApiKey;

use requests::{encode_request, RequestFacts};

const EXIT_OK: u8 = 0;
const EXIT_ERROR: u8 = 1;
const EXIT_DENIED: u8 = 2;
/// sysexits.h EX_USAGE.
const EXIT_USAGE: u8 = 64;

const USAGE: &str = "\
Usage: kafka-mtls-filter <COMMAND> [OPTIONS]

Commands:
  validate CONFIG                         check a plugin configuration (JSON) with the filter's parser
  principal --cert CERT.pem CONFIG        the Kafka principal the filter derives from a client certificate
  principal --subject DN CONFIG           the Kafka principal the filter derives from a subject DN
  explain CONFIG --principal P --api API  what the filter decides for one request, and which rule decides
  explain CONFIG --principal P --operation OP --resource TYPE:NAME
                                          Kafka's authorizer question itself, without a request
  credentials CONFIG                      what the broker must be provisioned with for the propagation mode
  apis                                    every API key a Kafka 4.4 broker serves: how the filter authorizes
                                          it or why it refuses it (Markdown, as in the README)

CONFIG is a file with the plugin configuration (the Istio pluginConfig / Envoy configuration JSON), or `-` for
standard input. `kafka-mtls-filter <COMMAND> --help` describes each command.

Options:
  -h, --help     print this help
  -V, --version  print the version
";

const VALIDATE_HELP: &str = "\
Usage: kafka-mtls-filter validate CONFIG

Parses and compiles CONFIG exactly as the filter does when Envoy loads it. Prints `configuration OK` and a
summary on success (exit 0); prints the error, which names the configuration field at fault, on standard
error otherwise (exit 1).
";

const PRINCIPAL_HELP: &str = "\
Usage: kafka-mtls-filter principal --cert CERT.pem [--now UNIX_SECONDS] CONFIG
       kafka-mtls-filter principal --subject DN CONFIG

Derives the Kafka principal of the client certificate CERT.pem (the first certificate of the file) with the
`identity` section of CONFIG, as the filter does for a connection presenting it. Prints the principal and its
source (spiffe, subject) (exit 0), or why the filter would refuse the connection (exit 1). Validity dates are
checked against the current time, or against --now.

With --subject, maps the subject DN (RFC 2253, as Kafka's X500Principal.getName() writes it, e.g.
\"CN=app,OU=team,O=acme\") with `identity.subject.mappingRules`, as Kafka's SslPrincipalMapper does.
";

const EXPLAIN_HELP: &str = "\
Usage: kafka-mtls-filter explain CONFIG --principal P --api API [--topic T]... [--group G]
                                 [--transactional-id X] [--host IP] [--client-id ID] [--version V]
       kafka-mtls-filter explain CONFIG --principal P --operation OP --resource TYPE:NAME [--host IP]

Builds the request API implies (a minimal request naming the topics, group and transactional id given),
classifies it with the filter's classifier and asks the filter's authorizer about every action, printing each
requirement, each action with the deciding rule, and the result.

  --principal P          the principal asking, e.g. User:CN=payments-checkout (`User:` is implied)
  --api API              the request, by Kafka or Cilium name: produce, fetch, metadata, offsets, joingroup,
                         offsetcommit, initproducerid, createtopics, describeconfigs, ...
  --topic T              a topic the request names (repeatable)
  --group G              the consumer group the request names
  --transactional-id X   the transactional id the request names
  --host IP              the client's IP address (default: unknown, so only rules with host `*` match)
  --client-id ID         the request header's client id (Cilium rules may match on it)
  --version V            the API version (default: the highest the filter supports)

The second form asks the question Kafka's authorizer answers, with no request around it: may P, from the
host, perform OP on the resource? OP is any ACL operation (Read, Write, Create, Delete, Alter, Describe,
ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite, CreateTokens, DescribeTokens, All; Kafka's
upper-case names work too); the resource is TYPE:NAME with TYPE topic, group, transactionalId,
delegationToken or user (`user:User:alice`), or `cluster` (Kafka's `kafka-cluster`). Cilium rules authorize
requests, not bare questions, so they never allow here.

Exit status: 0 ALLOWED (also when authorization is off), 2 DENIED (in audit mode too: the request would be
forwarded, but logged as denied), 1 invalid configuration, 64 usage error.
";

const CREDENTIALS_HELP: &str = "\
Usage: kafka-mtls-filter credentials CONFIG

Lists every principal the policy names and what the broker must be provisioned with so that the identity
reaches it under the configured `propagation.mode`.
";

const APIS_HELP: &str = "\
Usage: kafka-mtls-filter apis

Prints the table of every API key a Kafka 4.4 broker serves, as Markdown: the versions the filter handles and
the check of Kafka's it mirrors, or why it refuses the API (a refused API is left out of the ApiVersions answer,
and a request of it closes the connection unless `unknownRequests: allow`). The README holds this table.
";

/// A usage error: printed with the usage text, exit 64.
struct UsageError(String);

/// Command-line arguments of one subcommand: positional arguments and `--name value` options.
#[derive(Default)]
struct Args {
    positional: Vec<String>,
    options: Vec<(String, String)>,
    help: bool,
}

impl Args {
    /// `value_options`: the options this command knows, each taking one value (`--name value` or
    /// `--name=value`).
    fn parse(raw: &[String], value_options: &[&str]) -> Result<Args, UsageError> {
        let mut args = Args::default();
        let mut iter = raw.iter();
        while let Some(arg) = iter.next() {
            if arg == "-h" || arg == "--help" {
                args.help = true;
            } else if arg == "--" {
                args.positional.extend(iter.by_ref().cloned());
            } else if let Some(option) = arg.strip_prefix("--") {
                let (name, inline) = match option.split_once('=') {
                    Some((name, value)) => (name, Some(value.to_string())),
                    None => (option, None),
                };
                if !value_options.contains(&name) {
                    return Err(UsageError(format!("unknown option `--{name}`")));
                }
                let value = match inline {
                    Some(value) => value,
                    None => iter.next().cloned().ok_or_else(|| UsageError(format!("`--{name}` needs a value")))?,
                };
                args.options.push((name.to_string(), value));
            } else if arg.starts_with('-') && arg != "-" {
                return Err(UsageError(format!("unknown option `{arg}`")));
            } else {
                args.positional.push(arg.clone());
            }
        }
        Ok(args)
    }

    /// The last value of a single-valued option.
    fn value(&self, name: &str) -> Option<&str> {
        self.options.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn values(&self, name: &str) -> Vec<String> {
        self.options.iter().filter(|(n, _)| n == name).map(|(_, v)| v.clone()).collect()
    }

    fn required(&self, name: &str) -> Result<&str, UsageError> {
        self.value(name).ok_or_else(|| UsageError(format!("missing `--{name}`")))
    }

    /// The one positional argument: the configuration file.
    fn config_path(&self) -> Result<&str, UsageError> {
        match self.positional.as_slice() {
            [path] => Ok(path),
            [] => Err(UsageError("missing CONFIG (a configuration file, or `-` for standard input)".into())),
            [_, extra, ..] => Err(UsageError(format!("unexpected argument `{extra}`"))),
        }
    }
}

/// What a command prints, and its exit code.
struct Outcome {
    code: u8,
    stdout: String,
    stderr: String,
}

impl Outcome {
    fn ok(stdout: String) -> Outcome {
        Outcome { code: EXIT_OK, stdout, stderr: String::new() }
    }
    fn error(message: String) -> Outcome {
        Outcome { code: EXIT_ERROR, stdout: String::new(), stderr: format!("error: {message}\n") }
    }
    fn usage(error: UsageError, help: &str) -> Outcome {
        Outcome { code: EXIT_USAGE, stdout: String::new(), stderr: format!("error: {}\n\n{help}", error.0) }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = run(&args);
    // A closed pipe (`| head`) is not worth a panic: ignore write errors.
    let _ = std::io::stdout().write_all(outcome.stdout.as_bytes());
    let _ = std::io::stderr().write_all(outcome.stderr.as_bytes());
    ExitCode::from(outcome.code)
}

fn run(args: &[String]) -> Outcome {
    let Some((command, rest)) = args.split_first() else {
        return Outcome::usage(UsageError("no command given".into()), USAGE);
    };
    let (help, result) = match command.as_str() {
        "-h" | "--help" | "help" => return Outcome::ok(USAGE.to_string()),
        "-V" | "--version" => return Outcome::ok(format!("kafka-mtls-filter {}\n", env!("CARGO_PKG_VERSION"))),
        "validate" => (VALIDATE_HELP, Args::parse(rest, &[]).map(|a| (a, validate as Command))),
        "principal" => {
            (PRINCIPAL_HELP, Args::parse(rest, &["cert", "subject", "now"]).map(|a| (a, principal as Command)))
        }
        "explain" => (
            EXPLAIN_HELP,
            Args::parse(
                rest,
                &[
                    "principal",
                    "api",
                    "topic",
                    "group",
                    "transactional-id",
                    "host",
                    "client-id",
                    "version",
                    "operation",
                    "resource",
                ],
            )
            .map(|a| (a, explain as Command)),
        ),
        "credentials" => (CREDENTIALS_HELP, Args::parse(rest, &[]).map(|a| (a, credentials as Command))),
        "apis" => (APIS_HELP, Args::parse(rest, &[]).map(|a| (a, apis as Command))),
        other => return Outcome::usage(UsageError(format!("unknown command `{other}`")), USAGE),
    };
    match result {
        Ok((args, _)) if args.help => Outcome::ok(help.to_string()),
        Ok((args, command)) => match command(&args) {
            Ok(outcome) => outcome,
            Err(usage) => Outcome::usage(usage, help),
        },
        Err(usage) => Outcome::usage(usage, help),
    }
}

type Command = fn(&Args) -> Result<Outcome, UsageError>;

fn read_input(path: &str) -> Result<Vec<u8>, String> {
    if path == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        return Ok(buf);
    }
    std::fs::read(path).map_err(|e| format!("cannot read `{path}`: {e}"))
}

/// The configuration compiled by the filter's parser, and as written (for the names it mentions).
fn load_config(path: &str) -> Result<(Config, RawConfig), String> {
    let json = read_input(path)?;
    let config = Config::parse(&json).map_err(|e| format!("{path}: {e}"))?;
    // Config::parse accepted it, so this parse succeeds too; an empty document means defaults.
    let raw = if json.iter().all(u8::is_ascii_whitespace) {
        RawConfig::default()
    } else {
        serde_json::from_slice(&json).map_err(|e| format!("{path}: {e}"))?
    };
    Ok((config, raw))
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Off => "off",
        Mode::Enforce => "enforce",
        Mode::Audit => "audit",
    }
}

/// The mode as the configuration spells it (`BanzaiPreamble` -> `banzai-preamble`).
fn propagation_name(propagation: Propagation) -> String {
    kebab_case(&format!("{propagation:?}"))
}

fn kebab_case(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Principals named by the policy (super users and rule owners), normalized as the filter compares them.
fn named_principals(raw: &RawConfig) -> BTreeSet<String> {
    let authorization = &raw.authorization;
    authorization
        .super_users
        .iter()
        .chain(authorization.users.iter().map(|u| &u.principal))
        .filter_map(|p| normalize_principal(p))
        .collect()
}

fn apis(args: &Args) -> Result<Outcome, UsageError> {
    if let Some(extra) = args.positional.first() {
        return Err(UsageError(format!("unexpected argument `{extra}`")));
    }
    Ok(Outcome::ok(api_table::markdown()))
}

fn validate(args: &Args) -> Result<Outcome, UsageError> {
    let path = args.config_path()?;
    let (config, raw) = match load_config(path) {
        Ok(loaded) => loaded,
        Err(e) => return Ok(Outcome::error(e)),
    };
    let authorizer = &config.authorizer;
    let principals = named_principals(&raw);
    let mut out = format!("configuration OK: {path}\n");
    out += &format!(
        "  identity: prefer {}, unauthenticated connections: {}\n",
        kebab_case(&format!("{:?}", config.identity.preferred_source())),
        kebab_case(&format!("{:?}", config.identity.unauthenticated_policy()))
    );
    out += &format!(
        "  authorization: mode {}, {} rules for {} principals, {} super users, allowEveryoneIfNoAclFound={}, \
         unknownRequests={}\n",
        mode_name(authorizer.mode()),
        authorizer.rules().count(),
        principals.len(),
        raw.authorization.super_users.len(),
        authorizer.allow_everyone_if_no_acl_found(),
        if authorizer.unknown_requests_allowed() { "allow" } else { "deny" },
    );
    out += &format!("  propagation: {}\n", propagation_name(config.propagation));
    out += &format!("  observability: auditDenied={}, auditAllowed={}\n", config.audit_denied, config.log_allowed);
    out += &format!("  maxFrameBytes: {}\n", config.max_frame_bytes);
    out += &format!(
        "  held bytes: maxHeldBytesPerConnection {}, maxHeldBytesPerVm {}\n",
        config.held_limits.per_connection, config.held_limits.per_vm
    );
    Ok(Outcome::ok(out))
}

fn principal(args: &Args) -> Result<Outcome, UsageError> {
    let path = args.config_path()?;
    if let Some(subject) = args.value("subject") {
        if args.value("cert").is_some() {
            return Err(UsageError("give --cert or --subject, not both".into()));
        }
        let (config, _) = match load_config(path) {
            Ok(loaded) => loaded,
            Err(e) => return Ok(Outcome::error(e)),
        };
        return Ok(match question::principal_of_subject(&config, subject, 0) {
            Ok(line) => Outcome::ok(line),
            Err(refusal) => Outcome { code: EXIT_ERROR, stdout: String::new(), stderr: refusal },
        });
    }
    let cert_path = args.required("cert")?;
    let now = match args.value("now") {
        Some(text) => {
            text.parse::<i64>().map_err(|_| UsageError(format!("`--now {text}`: not a number of seconds")))?
        }
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
    };
    let (config, _) = match load_config(path) {
        Ok(loaded) => loaded,
        Err(e) => return Ok(Outcome::error(e)),
    };
    let pem = match read_input(cert_path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => return Ok(Outcome::error(e)),
    };
    Ok(match config.identity.principal_for_pem(&pem, now) {
        Ok(identity) => Outcome::ok(format!("{} (source: {})\n", identity.principal, identity.source.as_str())),
        Err(refusal) => Outcome { code: EXIT_ERROR, stdout: String::new(), stderr: format!("refused: {refusal}\n") },
    })
}

fn explain(args: &Args) -> Result<Outcome, UsageError> {
    let path = args.config_path()?;
    let principal_arg = args.required("principal")?;
    let principal = normalize_principal(principal_arg)
        .ok_or_else(|| UsageError(format!("`--principal {principal_arg}`: empty principal")))?;
    if let Some(operation) = args.value("operation") {
        if args.value("api").is_some() {
            return Err(UsageError("give --api (a request) or --operation (a bare question), not both".into()));
        }
        let asked = question::Question::parse(operation, args.required("resource")?).map_err(UsageError)?;
        let (config, _) = match load_config(path) {
            Ok(loaded) => loaded,
            Err(e) => return Ok(Outcome::error(e)),
        };
        let (mut out, allowed) = question::ask(&config, &principal, args.value("host").unwrap_or(""), &asked);
        let (verdict, code) = match (allowed, config.authorizer.mode()) {
            (true, _) => ("ALLOWED", EXIT_OK),
            (false, Mode::Off) => ("ALLOWED (authorization is off: the policy would deny it)", EXIT_OK),
            (false, _) => ("DENIED", EXIT_DENIED),
        };
        out += &format!("result: {verdict}\n");
        return Ok(Outcome { code, stdout: out, stderr: String::new() });
    }
    let api_arg = args.required("api")?;
    let api_key =
        api_key_by_name(api_arg).ok_or_else(|| UsageError(format!("`--api {api_arg}`: unknown Kafka API")))?;
    let key = ApiKey::try_from(api_key).map_err(|_| UsageError(format!("`--api {api_arg}`: unknown Kafka API")))?;
    let entry = api::lookup(api_key);
    let api_name = api::api_name(api_key);
    let version = match args.value("version") {
        Some(text) => text.parse::<i16>().map_err(|_| UsageError(format!("`--version {text}`: not a version")))?,
        // The newest version that names topics (Produce v13 and Fetch v13+ address them by id, which only
        // the broker can resolve): the same decision, on the names given.
        None => entry
            .map(|e| if matches!(key, ApiKey::Produce | ApiKey::Fetch) { e.max_version.min(12) } else { e.max_version })
            .filter(|v| *v >= 0)
            .unwrap_or_else(|| key.valid_versions().max),
    };
    let facts = RequestFacts {
        topics: args.values("topic"),
        group: args.value("group").map(str::to_string),
        transactional_id: args.value("transactional-id").map(str::to_string),
    };
    let host = args.value("host").unwrap_or("");
    let client_id = args.value("client-id");
    let (config, _) = match load_config(path) {
        Ok(loaded) => loaded,
        Err(e) => return Ok(Outcome::error(e)),
    };
    // A version kafka-protocol cannot encode is a version the filter refuses: classify an empty body then,
    // which reports the version as unsupported exactly as the filter does.
    let body = if version >= key.valid_versions().min && version <= key.valid_versions().max {
        encode_request(key, version, &facts).map_err(|e| UsageError(e.0))?
    } else {
        Vec::new()
    };
    let authorizer = &config.authorizer;
    let mode = authorizer.mode();
    let mut out = format!(
        "request: {api_name} v{version} from {principal} (host {}, client id {})\n",
        if host.is_empty() { "unknown" } else { host },
        client_id.unwrap_or("none")
    );
    out += &format!("authorization mode: {}\n", mode_name(mode));
    let requirements = match classify(api_key, version, &body, body.len()) {
        Classification::Checks { requirements, .. } => requirements,
        Classification::Unchecked => {
            out += "requirements: none (handshake or authentication request, never checked)\nresult: ALLOWED\n";
            return Ok(Outcome::ok(out));
        }
        Classification::Unsupported(reason) => {
            out += &format!("requirements: unknown: the filter cannot classify this request ({reason})\n");
            let (verdict, code) = if authorizer.unknown_requests_allowed() {
                ("ALLOWED (unknownRequests: allow forwards it unchecked)", EXIT_OK)
            } else if mode == Mode::Off {
                ("ALLOWED (authorization is off)", EXIT_OK)
            } else {
                ("DENIED (unknownRequests: deny closes the connection)", EXIT_DENIED)
            };
            out += &format!("result: {verdict}\n");
            return Ok(Outcome { code, stdout: out, stderr: String::new() });
        }
        Classification::UnknownTopicIds { .. } => {
            // The CLI has no broker to learn topic ids from.
            out += "requirements: unknown: the request addresses topics by id; the filter decides it on the names it learns from the broker\n";
            return Ok(Outcome::error(out));
        }
        Classification::NeedMore => return Ok(Outcome::error("the classifier asked for more bytes".into())),
    };
    let ctx = RequestCtx { principal: &principal, host, api_key, api_version: version, client_id };
    let mut allowed = true;
    if requirements.is_empty() {
        out += "requirements: none\n";
    }
    for (i, requirement) in requirements.iter().enumerate() {
        let wanted: Vec<String> = requirement
            .any_of()
            .map(|a| format!("{} {} `{}`", a.op.as_str(), a.resource_type.as_str(), a.name))
            .collect();
        out += &format!("requirement {}: {}\n", i + 1, wanted.join(" OR "));
        // Asked as the filter's session asks it: alternatives in order, up to the first allowed one.
        let outcome = authorize::requirement(authorizer, &ctx, requirement, |Asked { action, decision }| {
            out += &format!(
                "  {} {} `{}`: {} by {}\n",
                action.op.as_str(),
                action.resource_type.as_str(),
                action.name,
                if decision.allowed { "ALLOWED" } else { "DENIED" },
                decision.rule
            );
        });
        allowed &= outcome.satisfied;
    }
    if key == ApiKey::Metadata {
        out += "note: Metadata is never refused whole: topics the principal may not Describe are answered with \
                TOPIC_AUTHORIZATION_FAILED\n";
    }
    let (verdict, code) = match (allowed, mode) {
        (true, _) => ("ALLOWED", EXIT_OK),
        (false, Mode::Off) => ("ALLOWED (authorization is off: the policy would deny it)", EXIT_OK),
        (false, Mode::Audit) => ("DENIED (audit mode: forwarded to the broker and logged as denied)", EXIT_DENIED),
        (false, Mode::Enforce) => ("DENIED", EXIT_DENIED),
    };
    out += &format!("result: {verdict}\n");
    Ok(Outcome { code, stdout: out, stderr: String::new() })
}

fn credentials(args: &Args) -> Result<Outcome, UsageError> {
    let path = args.config_path()?;
    let (config, raw) = match load_config(path) {
        Ok(loaded) => loaded,
        Err(e) => return Ok(Outcome::error(e)),
    };
    let principals = named_principals(&raw);
    let mut out = format!("propagation mode: {}\n", propagation_name(config.propagation));
    let per_principal: &str = match config.propagation {
        Propagation::None => {
            out += "broker: nothing to provision; the broker sees every connection as coming from Envoy (one \
                    identity), the filter alone enforces the policy\n";
            "nothing to provision"
        }
        Propagation::BanzaiPreamble => {
            out += "broker: a PLAINTEXT listener reachable only from Envoy, served by banzaicloud/kafka's \
                    PlaintextChannelWithOptionalUserIdentity (it reads the `BZC_UID:` preamble); broker ACLs, if \
                    any, name the principals below\n";
            "no credential (the preamble carries the identity)"
        }
        Propagation::Sasl => {
            let Some(sasl) = config.sasl.as_ref() else {
                return Ok(Outcome::error("propagation mode sasl without a `sasl` section".to_string()));
            };
            out += &format!(
                "broker: a SASL_PLAINTEXT listener reachable only from Envoy, with sasl.enabled.mechanisms={}\n",
                sasl.mechanism().name()
            );
            if let Some(jwks) = kafka_mtls_filter::propagation::jwks(sasl) {
                out += &format!("JWKS for the broker's sasl.oauthbearer.jwks.endpoint.url (file://...):\n{jwks}\n");
            }
            if principals.is_empty() {
                out += "principals: none named by the policy\n";
            }
            for principal in principals.iter().filter(|p| p.as_str() != WILDCARD_PRINCIPAL) {
                out += &format!(
                    "principal {principal}:\n  {}\n",
                    kafka_mtls_filter::propagation::provisioning(sasl, principal).trim_end().replace('\n', "\n  ")
                );
            }
            return Ok(Outcome::ok(out));
        }
    };
    if principals.is_empty() {
        out += "principals: none named by the policy\n";
    }
    for principal in &principals {
        let note = if principal == WILDCARD_PRINCIPAL { " (every principal)" } else { "" };
        out += &format!("principal {principal}{note}: {per_principal}\n");
    }
    Ok(Outcome::ok(out))
}
