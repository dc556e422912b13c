//! TLS for OTLP (feature `tls`): rustls with the `ring` provider, verifying the server
//! against the system's roots or the CA file asked for, with an optional client certificate.
//!
//! Every file is read when the exporter is built, so a missing or unparsable one is an error
//! from `init()` naming its variable, never a failure found later in the traces.

use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::retry::Failure;
use super::settings::{PathSetting, TlsFiles};
use crate::env::{invalid, setting};
use crate::error::Error;

/// What both transports need: rustls's configuration for HTTP, the PEM files for tonic
/// (which builds its own from them, with the same `ring` provider).
#[derive(Clone)]
pub(crate) struct Tls {
    pub(crate) rustls: Arc<ClientConfig>,
    ca: Option<Vec<u8>>,
    identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl Tls {
    /// tonic's form of the same settings.
    pub(crate) fn tonic(&self) -> tonic::transport::ClientTlsConfig {
        use tonic::transport::{Certificate, ClientTlsConfig, Identity};
        let config = match &self.ca {
            Some(ca) => ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca)),
            None => ClientTlsConfig::new().with_native_roots(),
        };
        match &self.identity {
            Some((cert, key)) => config.identity(Identity::from_pem(cert, key)),
            None => config,
        }
    }
}

/// An `Err` that names the variable (or method) the file came from, and the fix.
fn bad(file: &PathSetting, why: impl Into<String>) -> Error {
    if file.source.starts_with("Builder::") {
        setting(file.source, &file.path, why)
    } else {
        invalid(file.source, &file.path, why)
    }
}

fn read(file: &PathSetting) -> Result<Vec<u8>, Error> {
    std::fs::read(&file.path).map_err(|e| {
        bad(
            file,
            format!("cannot read the file: {e}; give the path of a readable PEM file"),
        )
    })
}

fn certificates(file: &PathSetting, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(file, format!("not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(bad(
            file,
            "the file holds no certificate: expected PEM (-----BEGIN CERTIFICATE-----)",
        ));
    }
    Ok(certs)
}

/// The client configuration `files` ask for: the CA file's certificates as the only roots,
/// else the system's (`SSL_CERT_FILE` and `SSL_CERT_DIR` honoured); a client certificate
/// when both it and its key are given (the settings checked they come together).
pub(crate) fn client_config(files: &TlsFiles) -> Result<Tls, Error> {
    let mut roots = RootCertStore::empty();
    let ca = if let Some(file) = &files.ca {
        let pem = read(file)?;
        for cert in certificates(file, &pem)? {
            roots
                .add(cert)
                .map_err(|e| bad(file, format!("not a usable CA certificate: {e}")))?;
        }
        Some(pem)
    } else {
        let found = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(found.certs);
        if roots.is_empty() {
            return Err(Error::Exporter {
                reason: "no trusted root certificate found on this system (install \
                         ca-certificates, set SSL_CERT_FILE, or give the collector's CA \
                         in OTEL_EXPORTER_OTLP_CERTIFICATE)"
                    .into(),
            });
        }
        None
    };
    // Deprecated in rustls 0.23.48 for lacking post-quantum key exchange, which only the
    // aws-lc-rs provider has; aws-lc needs cmake and a C toolchain, ring only `cc`. tonic's
    // `tls-ring` picks the same provider.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Exporter {
            reason: format!("cannot set up TLS: {e}"),
        })?
        .with_root_certificates(roots);
    let (config, identity) = match (&files.client_certificate, &files.client_key) {
        (Some(cert_file), Some(key_file)) => {
            let cert_pem = read(cert_file)?;
            let chain = certificates(cert_file, &cert_pem)?;
            let key_pem = read(key_file)?;
            let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
                bad(
                    key_file,
                    format!("not a PEM private key (PKCS#8, PKCS#1 or SEC1): {e}"),
                )
            })?;
            let config = builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| bad(key_file, format!("does not go with the certificate: {e}")))?;
            (config, Some((cert_pem, key_pem)))
        }
        _ => (builder.with_no_client_auth(), None),
    };
    Ok(Tls {
        rustls: Arc::new(config),
        ca,
        identity,
    })
}

/// Completes the handshake on `stream` within `timeout`: nothing is written to the
/// connection before the server's certificate has verified. A certificate that does not
/// verify is a [`Failure::tls`], never retried.
pub(crate) fn handshake(
    config: &Arc<ClientConfig>,
    name: ServerName<'static>,
    mut stream: TcpStream,
    timeout: Duration,
) -> Result<StreamOwned<ClientConnection, TcpStream>, Failure> {
    let mut conn = ClientConnection::new(Arc::clone(config), name)
        .map_err(|e| Failure::tls(format!("cannot start TLS: {e}")))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| e.to_string())?;
    while conn.is_handshaking() {
        conn.complete_io(&mut stream).map_err(|e| {
            match e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
                Some(tls) => Failure::tls(format!("TLS handshake failed: {tls}")),
                None => Failure::retryable(format!("TLS handshake failed: {e}"), None),
            }
        })?;
    }
    Ok(StreamOwned::new(conn, stream))
}
