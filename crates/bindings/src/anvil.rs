//! A local anvil chain for tests and the devnet: the workspace's pinned anvil (npm
//! `@foundry-rs/anvil`, `node_modules/.bin/anvil` after `npm install`) on a port the OS picks,
//! killed when the [`Anvil`] is dropped.
//!
//! Which anvil runs: the `CAUSEWAY_ANVIL` environment variable if set, else the workspace's
//! `node_modules/.bin/anvil` if present, else `anvil` from `PATH`.
//!
//! ```no_run
//! # use causeway_bindings::anvil::{Anvil, DEV_KEY};
//! let anvil = Anvil::spawn()?;
//! let url = anvil.endpoint(); // http://127.0.0.1:<port>, answering JSON-RPC
//! # Ok::<(), causeway_bindings::anvil::AnvilError>(())
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// The private key of anvil's first dev account (public knowledge; funded with 10000 ETH on
/// every fresh anvil). Parse it into a signer: `DEV_KEY.parse::<PrivateKeySigner>()`.
pub const DEV_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// The chain id of an anvil started without `--chain-id`.
pub const DEV_CHAIN_ID: u64 = 31337;

/// How long anvil may take to print its address, and then to answer.
const STARTUP: Duration = Duration::from_secs(30);

/// How long [`Anvil::shutdown`] waits for anvil to exit (and write its state).
const SHUTDOWN: Duration = Duration::from_secs(10);

/// Why an anvil could not be started.
#[derive(Debug, thiserror::Error)]
pub enum AnvilError {
    #[error(
        "spawning {}: {source} (run `npm install` at the workspace root, or set CAUSEWAY_ANVIL to an anvil binary)",
        program.display()
    )]
    Spawn {
        program: PathBuf,
        source: std::io::Error,
    },
    #[error("anvil exited before reporting its address; its output:\n{output}")]
    Exited { output: String },
    #[error("anvil did not report its address within {STARTUP:?}")]
    NoAddress,
    #[error("anvil at {endpoint} did not answer JSON-RPC within {STARTUP:?}")]
    NotAnswering { endpoint: String },
}

/// A running anvil, killed (with the npm wrapper around it) when dropped.
#[derive(Debug)]
pub struct Anvil {
    child: Child,
    address: String,
}

impl Anvil {
    /// Starts anvil with its defaults (chain id 31337, ten funded dev accounts, instant
    /// mining) and waits until it answers JSON-RPC.
    pub fn spawn() -> Result<Anvil, AnvilError> {
        Anvil::spawn_with_args::<&str>(&[])
    }

    /// Starts anvil with extra command-line arguments (e.g. `["--block-time", "1"]`); the host
    /// and port are chosen here.
    pub fn spawn_with_args<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Result<Anvil, AnvilError> {
        // `--port 0` lets the OS pick a free port (no race between parallel tests).
        Anvil::spawn_on_port(0, args)
    }

    /// Starts anvil on `port` with extra arguments: to bring a chain back where its clients
    /// expect it, e.g. after [`Anvil::shutdown`] of one started with `--state <file>`.
    pub fn spawn_on_port<S: AsRef<std::ffi::OsStr>>(
        port: u16,
        args: &[S],
    ) -> Result<Anvil, AnvilError> {
        let program = program();
        // Anvil prints the port as `Listening on 127.0.0.1:<port>`. Its own process group: the
        // npm wrapper (node) forwards SIGTERM/SIGINT to the anvil binary but not SIGKILL, so
        // drop kills the whole group.
        let mut child = Command::new(&program)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|source| AnvilError::Spawn {
                program: program.clone(),
                source,
            })?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        // Keep draining stdout after the address: anvil logs every request, and a full pipe
        // would block it. The lines before the address explain a failed start.
        thread::spawn(move || {
            let mut seen = Vec::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(address) = line.strip_prefix("Listening on ") {
                    let _ = tx.send(Ok(address.trim().to_string()));
                    seen.clear();
                } else if seen.len() < 200 {
                    seen.push(line);
                }
            }
            let _ = tx.send(Err(seen.join("\n")));
        });
        // From here on, dropping `anvil` kills the process.
        let mut anvil = Anvil {
            child,
            address: String::new(),
        };
        anvil.address = match rx.recv_timeout(STARTUP) {
            Ok(Ok(address)) => address,
            Ok(Err(output)) => return Err(AnvilError::Exited { output }),
            Err(_) => return Err(AnvilError::NoAddress),
        };
        // Listening is not answering yet in every version: poll until it answers.
        let deadline = Instant::now() + STARTUP;
        while !answers(&anvil.address) {
            if Instant::now() >= deadline {
                return Err(AnvilError::NotAnswering {
                    endpoint: anvil.endpoint(),
                });
            }
            thread::sleep(Duration::from_millis(50));
        }
        Ok(anvil)
    }

    /// The HTTP JSON-RPC endpoint, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The HTTP endpoint as a URL, for `ProviderBuilder::connect_http`.
    pub fn endpoint_url(&self) -> alloy::transports::http::reqwest::Url {
        self.endpoint()
            .parse()
            .expect("anvil's address is a valid URL")
    }

    /// The WebSocket JSON-RPC endpoint, `ws://127.0.0.1:<port>` (anvil serves both on one port).
    pub fn ws_endpoint(&self) -> String {
        format!("ws://{}", self.address)
    }

    /// The port anvil listens on.
    pub fn port(&self) -> u16 {
        self.address
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("anvil's address ends in a port")
    }
}

impl Anvil {
    /// Stops anvil the way Ctrl-C would (SIGTERM, which the npm wrapper forwards), so that it
    /// writes `--state` / `--dump-state` on the way out, and waits until every process of its
    /// group has exited; after 10 s whatever is left is killed.
    pub fn shutdown(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
        // The wrapper exits as soon as it has forwarded the signal; the anvil binary may still
        // be dumping its state. Signal 0 to the group fails once no member is left.
        let deadline = Instant::now() + SHUTDOWN;
        while Instant::now() < deadline {
            let alive = Command::new("kill")
                .args(["-0", "--", &format!("-{}", self.child.id())])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !alive {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        // Drop kills what may be left.
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        // The group whose id is the wrapper's pid: the wrapper and the anvil binary.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `CAUSEWAY_ANVIL`, else the workspace's `node_modules/.bin/anvil`, else `anvil` (from `PATH`).
fn program() -> PathBuf {
    if let Some(path) = std::env::var_os("CAUSEWAY_ANVIL") {
        return PathBuf::from(path);
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../node_modules/.bin/anvil");
    if workspace.exists() {
        return workspace;
    }
    PathBuf::from("anvil")
}

/// Whether `eth_chainId` on `address` (`host:port`) gets a JSON-RPC result: a hand-written
/// HTTP/1.1 request, so that starting anvil needs no async runtime.
fn answers(address: &str) -> bool {
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let attempt = || -> std::io::Result<bool> {
        let mut stream = TcpStream::connect(address)?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        stream.write_all(request.as_bytes())?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        Ok(response.starts_with("HTTP/1.1 200") && response.contains("\"result\""))
    };
    attempt().unwrap_or(false)
}
