//! The OTLP transport as a backend sees it: gzip bodies, and TLS on loopback with a CA and
//! certificates made here (rcgen), a receiver that requires a client certificate, and a
//! CA that does not match, refused and counted.

// Span counts are whole numbers, written and read back exactly.
#![allow(clippy::float_cmp)]

#[path = "../../tests/common/mod.rs"]
mod common;
mod otlp_receiver;

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use otlp_receiver::{Receiver, one_at_a_time};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

#[obs_runtime::traced]
fn work(i: u32) -> u32 {
    i
}

fn dropped(reason: &str) -> f64 {
    common::Page::parse(&obs_runtime::render())
        .value("obs_spans_dropped_total", &[("reason", reason)])
        .unwrap_or(0.0)
}

/// Installs obs with `vars` (and a short schedule delay), makes `spans` spans, waits for
/// `receiver` to have them (at most five seconds), and drops the guard.
fn export(vars: Vec<(String, String)>, receiver: &Receiver, spans: u32) {
    let mut vars = vars;
    vars.push(("OTEL_BSP_SCHEDULE_DELAY".into(), "20".into()));
    let obs = obs_runtime::Builder::new()
        .env(move |var| vars.iter().find(|(k, _)| k == var).map(|(_, v)| v.clone()))
        .without_server()
        .log_format(obs_runtime::LogFormat::Off)
        .flush_timeout(Duration::from_secs(2))
        .install()
        .expect("install");
    for i in 0..spans {
        assert_eq!(work(i), i);
    }
    receiver.wait_for(spans as usize, Duration::from_secs(5));
    drop(obs);
}

#[test]
fn gzip_bodies_decode_to_the_same_spans_over_http_and_grpc() {
    let _turn = one_at_a_time();
    let http = Receiver::http();
    let mut vars = http.env();
    vars.push(("OTEL_EXPORTER_OTLP_COMPRESSION".into(), "gzip".into()));
    export(vars, &http, 300);
    let requests = http.requests();
    assert!(!requests.is_empty());
    assert!(
        requests.iter().all(|r| r.encoding == "gzip"),
        "{requests:?}"
    );
    let spans = http.spans();
    assert_eq!(spans.len(), 300);
    assert!(spans.iter().all(|s| s.name == "work"));

    // gRPC's `grpc-encoding: gzip`: the receiver accepts gzip and decodes the same spans.
    let grpc = Receiver::grpc();
    let mut vars = grpc.env();
    vars.push((
        "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION".into(),
        "gzip".into(),
    ));
    export(vars, &grpc, 300);
    assert_eq!(grpc.spans().len(), 300);
}

/// A CA, and what it signed.
struct Pki {
    dir: PathBuf,
    ca: rcgen::Certificate,
    ca_key: KeyPair,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!("obs-tls-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = params.self_signed(&ca_key).unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        Pki { dir, ca, ca_key }
    }

    fn path(&self, file: &str) -> String {
        self.dir.join(file).to_string_lossy().into_owned()
    }

    /// A certificate for 127.0.0.1 signed by this CA: `(cert.pem, key.pem)` paths.
    fn issue(&self, name: &str) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = vec![SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST))];
        let cert = params.signed_by(&key, &self.ca, &self.ca_key).unwrap();
        let (cert_path, key_path) = (
            self.path(&format!("{name}.pem")),
            self.path(&format!("{name}.key")),
        );
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        (cert_path, key_path)
    }

    /// A TLS server configuration with a certificate of this CA; with `clients`, it requires
    /// a client certificate signed by that CA.
    fn server(&self, clients: Option<&Pki>) -> Arc<rustls::ServerConfig> {
        let (cert, key) = self.issue("server");
        let chain = CertificateDer::pem_file_iter(&cert)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(&key).unwrap();
        // ring, as obs-runtime's `tls` (deprecated in rustls 0.23.48 for lacking
        // post-quantum key exchange, which loopback tests do not need).
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = match clients {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                roots.add(ca.ca.der().clone()).unwrap();
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .unwrap();
                builder.with_client_cert_verifier(verifier)
            }
        };
        Arc::new(builder.with_single_cert(chain, key).unwrap())
    }
}

#[test]
fn https_spans_arrive_verified_against_the_ca_file() {
    let _turn = one_at_a_time();
    let pki = Pki::new("ca-file");
    let receiver = Receiver::https(pki.server(None));
    let mut vars = receiver.env();
    assert!(receiver.endpoint().starts_with("https://127.0.0.1:"));
    vars.push(("OTEL_EXPORTER_OTLP_CERTIFICATE".into(), pki.path("ca.pem")));
    vars.push(("OTEL_EXPORTER_OTLP_COMPRESSION".into(), "gzip".into()));
    export(vars, &receiver, 200);
    assert_eq!(receiver.spans().len(), 200);
}

#[test]
fn a_receiver_that_requires_a_client_certificate_gets_spans_from_one() {
    let _turn = one_at_a_time();
    let server_pki = Pki::new("mtls-server");
    let client_pki = Pki::new("mtls-client");
    let receiver = Receiver::https(server_pki.server(Some(&client_pki)));
    let (cert, key) = client_pki.issue("client");
    let mut vars = receiver.env();
    vars.push((
        "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE".into(),
        server_pki.path("ca.pem"),
    ));
    vars.push(("OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE".into(), cert));
    vars.push(("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY".into(), key));
    export(vars, &receiver, 200);
    assert_eq!(receiver.spans().len(), 200);
}

#[test]
fn a_certificate_of_another_ca_is_refused_and_counted_never_sent_in_plaintext() {
    let _turn = one_at_a_time();
    let pki = Pki::new("wrong-server");
    let other = Pki::new("wrong-other");
    let receiver = Receiver::https(pki.server(None));
    let mut vars = receiver.env();
    vars.push((
        "OTEL_EXPORTER_OTLP_CERTIFICATE".into(),
        other.path("ca.pem"),
    ));
    let before = dropped("tls");
    // The wait for spans times out: none arrive.
    export(vars, &receiver, 100);
    assert_eq!(
        dropped("tls") - before,
        100.0,
        "every span counted as a TLS drop"
    );
    assert!(receiver.requests().is_empty(), "no request was read");
    assert!(receiver.spans().is_empty());
}

#[test]
fn grpc_over_tls_with_a_client_certificate_gets_spans_and_a_wrong_ca_is_counted() {
    let _turn = one_at_a_time();
    let pki = Pki::new("grpc");
    let (cert, key) = pki.issue("grpc-server");
    let (client_cert, client_key) = pki.issue("grpc-client");
    let read = |path: &str| std::fs::read_to_string(path).unwrap();
    let ca = read(&pki.path("ca.pem"));
    let receiver = Receiver::grpcs(&read(&cert), &read(&key), Some(&ca));
    assert!(receiver.endpoint().starts_with("https://"));
    let mut vars = receiver.env();
    vars.push(("OTEL_EXPORTER_OTLP_CERTIFICATE".into(), pki.path("ca.pem")));
    vars.push(("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE".into(), client_cert));
    vars.push(("OTEL_EXPORTER_OTLP_CLIENT_KEY".into(), client_key));
    vars.push(("OTEL_EXPORTER_OTLP_COMPRESSION".into(), "gzip".into()));
    export(vars, &receiver, 200);
    assert_eq!(receiver.spans().len(), 200);

    let other = Pki::new("grpc-other");
    let receiver = Receiver::grpcs(&read(&cert), &read(&key), None);
    let mut vars = receiver.env();
    vars.push((
        "OTEL_EXPORTER_OTLP_CERTIFICATE".into(),
        other.path("ca.pem"),
    ));
    let before = dropped("tls");
    export(vars, &receiver, 100);
    assert_eq!(dropped("tls") - before, 100.0);
    assert!(receiver.spans().is_empty());
}

#[test]
fn unusable_tls_files_are_errors_from_init_that_name_the_variable() {
    let pki = Pki::new("bad-files");
    let garbage = pki.path("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let (cert, _) = pki.issue("lonely");
    let cases: [(&[(&str, String)], &str); 4] = [
        (
            &[("OTEL_EXPORTER_OTLP_CERTIFICATE", pki.path("missing.pem"))],
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", garbage.clone())],
            "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
        ),
        (
            &[
                ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", cert.clone()),
                ("OTEL_EXPORTER_OTLP_CLIENT_KEY", garbage.clone()),
            ],
            "OTEL_EXPORTER_OTLP_CLIENT_KEY",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", cert.clone())],
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
        ),
    ];
    for (files, var) in cases {
        let mut vars: Vec<(String, String)> = vec![(
            "OTEL_EXPORTER_OTLP_ENDPOINT".into(),
            "https://127.0.0.1:4318".into(),
        )];
        vars.extend(files.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        let err = obs_runtime::Builder::new()
            .env(move |v| vars.iter().find(|(k, _)| k == v).map(|(_, v)| v.clone()))
            .without_server()
            .without_subscriber()
            .install()
            .expect_err(var)
            .to_string();
        assert!(err.contains(var), "{var}: {err}");
    }
}
