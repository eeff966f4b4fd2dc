//! Proving and verifying keys on disk, one set per [`BatchShape`].
//!
//! Layout of a key directory, for the shape `c12-f2` (its `Display`):
//! - `c12-f2.pk`: the proving key, arkworks' uncompressed form (what
//!   [`groth16::key_to_bytes`] writes);
//! - `c12-f2.vk`: the verifying key, same form: what the L1 verifier is generated from;
//! - `c12-f2.origin`: one line of text saying where the keys came from. A development setup
//!   writes `development setup from public seed N — NOT FOR PRODUCTION`; a ceremony's keys
//!   may carry any other text, or none.
//!
//! Invariants:
//! - A [`KeyMode::Production`] store never uses a development key (its `.origin` says so), and
//!   never creates one: a missing key is [`ProverError::KeyMissing`] naming the path it
//!   expected. It validates every point it loads (on the curve, in the subgroup), and checks
//!   that the `.vk` beside a `.pk` is the proving key's own.
//! - A [`KeyMode::Development`] store creates a missing key set from its public seed and
//!   writes `.vk` and `.origin` before `.pk`, each atomically, so a `.pk` on disk always has
//!   its companions. It skips point validation only for keys whose `.origin` says they are
//!   its own kind (a development cache); anything else is validated.
//! - Two development stores with different seeds racing to create the same shape's keys can
//!   leave a `.vk` from one beside a `.pk` from the other; with the same seed the files are
//!   identical (the setup is deterministic). The prover itself always verifies with the
//!   verifying key embedded in the proving key it proved with.
//!
//! Loaded keys stay in memory for the store's lifetime (a proving key is what a worker needs
//! for every job of its shape; loading it takes seconds to minutes), and so do the shapes'
//! constraint matrices ([`BatchR1cs`]), built on first use and checked against the key.

use crate::ProverError;
use crate::durable;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Valid, Validate};
use causeway_circuit::batch::BatchShape;
use causeway_circuit::groth16::{self, BatchR1cs, KeyOrigin, ProvingKey, VerifyingKey};
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Whether a store may make and use development keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMode {
    /// Keys from a public seed are made when missing and used. NOT FOR PRODUCTION: anyone
    /// who knows the seed can prove false statements.
    Development { seed: u64 },
    /// Only keys placed in the directory from a ceremony's output are used.
    Production,
}

/// Where [`KeyStore::load`] found a proving key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// Already in this store's memory.
    Memory,
    /// Read from the directory (and its origin file).
    Disk { origin: KeyOrigin, took: Duration },
    /// Made now by a development setup, and written to the directory.
    Created { seed: u64, took: Duration },
}

/// The files of one shape's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPaths {
    pub proving: PathBuf,
    pub verifying: PathBuf,
    pub origin: PathBuf,
}

/// The key directory of a prover, with the keys it loaded.
#[derive(Debug)]
pub struct KeyStore {
    dir: PathBuf,
    mode: KeyMode,
    proving: Mutex<HashMap<BatchShape, Arc<ProvingKey>>>,
    verifying: Mutex<HashMap<BatchShape, Arc<VerifyingKey>>>,
    r1cs: Mutex<HashMap<BatchShape, Arc<BatchR1cs>>>,
}

/// All a proof of one shape needs: the proving key and the circuit's constraint matrices,
/// checked to belong together.
#[derive(Debug, Clone)]
pub struct ShapeProver {
    pub pk: Arc<ProvingKey>,
    pub r1cs: Arc<BatchR1cs>,
}

const DEV_ORIGIN_PREFIX: &str = "development setup from public seed ";

/// The `.origin` line of a development setup.
pub fn development_origin_line(seed: u64) -> String {
    format!("{DEV_ORIGIN_PREFIX}{seed} — NOT FOR PRODUCTION")
}

/// What an `.origin` file's text says; anything but a development line is a ceremony's.
fn parse_origin(text: &str) -> KeyOrigin {
    text.trim()
        .strip_prefix(DEV_ORIGIN_PREFIX)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|seed| seed.parse().ok())
        .map_or(KeyOrigin::Ceremony, |seed| KeyOrigin::Development { seed })
}

impl KeyStore {
    /// A store over `dir`. A development store creates `dir` if needed; a production store
    /// requires it to exist (an empty or mistyped directory would only fail later).
    ///
    /// # Errors
    /// [`ProverError::Io`] when the directory cannot be created or does not exist.
    pub fn open(dir: impl Into<PathBuf>, mode: KeyMode) -> Result<Self, ProverError> {
        let dir = dir.into();
        match mode {
            KeyMode::Development { .. } => {
                fs::create_dir_all(&dir).map_err(|e| ProverError::io(&dir, e))?;
            }
            KeyMode::Production => {
                if !dir.is_dir() {
                    return Err(ProverError::io(
                        &dir,
                        io::Error::new(io::ErrorKind::NotFound, "key directory does not exist"),
                    ));
                }
            }
        }
        Ok(Self {
            dir,
            mode,
            proving: Mutex::default(),
            verifying: Mutex::default(),
            r1cs: Mutex::default(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn mode(&self) -> KeyMode {
        self.mode
    }

    pub fn paths(&self, shape: BatchShape) -> KeyPaths {
        KeyPaths {
            proving: self.dir.join(format!("{shape}.pk")),
            verifying: self.dir.join(format!("{shape}.vk")),
            origin: self.dir.join(format!("{shape}.origin")),
        }
    }

    /// Where the keys of `shape` came from, according to their `.origin` file (a missing
    /// file means a ceremony's keys placed by hand).
    ///
    /// # Errors
    /// [`ProverError::Io`] when the file exists but cannot be read.
    pub fn origin(&self, shape: BatchShape) -> Result<KeyOrigin, ProverError> {
        let path = self.paths(shape).origin;
        match fs::read_to_string(&path) {
            Ok(text) => Ok(parse_origin(&text)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(KeyOrigin::Ceremony),
            Err(e) => Err(ProverError::io(&path, e)),
        }
    }

    /// The proving key of `shape` (see [`KeyStore::load`]).
    pub fn proving_key(&self, shape: BatchShape) -> Result<Arc<ProvingKey>, ProverError> {
        self.load(shape).map(|(pk, _)| pk)
    }

    /// The proving key of `shape` (see [`KeyStore::load`]) with the circuit's constraint
    /// matrices, built once per store.
    ///
    /// # Errors
    /// As [`KeyStore::load`]; [`ProverError::Circuit`] when the key is not this circuit's (a
    /// key of an older version of the circuit, say).
    pub fn prover(&self, shape: BatchShape) -> Result<ShapeProver, ProverError> {
        let pk = self.proving_key(shape)?;
        let circuit = |source| ProverError::Circuit {
            shape,
            path: self.paths(shape).proving,
            source,
        };
        // Held while building, so one process never builds a shape's matrices twice.
        let mut built = self.r1cs.lock().unwrap_or_else(PoisonError::into_inner);
        let r1cs = match built.get(&shape) {
            Some(r1cs) => r1cs.clone(),
            None => {
                let r1cs = Arc::new(BatchR1cs::new(shape).map_err(circuit)?);
                built.insert(shape, r1cs.clone());
                r1cs
            }
        };
        r1cs.check_key(&pk).map_err(circuit)?;
        Ok(ShapeProver { pk, r1cs })
    }

    /// The proving key of `shape`, from memory, from the directory or, in development mode,
    /// from a new setup (written to the directory); and where it came from.
    ///
    /// # Errors
    /// [`ProverError::KeyMissing`] (production mode, no key), [`ProverError::DevelopmentKey`]
    /// (production mode, a development key), [`ProverError::KeyFile`] (bytes that are not a
    /// key, or invalid points), [`ProverError::KeyMismatch`], [`ProverError::Io`],
    /// [`ProverError::Setup`].
    pub fn load(&self, shape: BatchShape) -> Result<(Arc<ProvingKey>, KeySource), ProverError> {
        // Held while loading or setting up, so one process never does either twice.
        let mut loaded = self.proving.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(pk) = loaded.get(&shape) {
            return Ok((pk.clone(), KeySource::Memory));
        }
        let paths = self.paths(shape);
        let started = Instant::now();
        let (pk, source) = if paths.proving.exists() {
            let origin = self.origin(shape)?;
            let trusted = match (self.mode, origin) {
                (KeyMode::Production, KeyOrigin::Development { seed }) => {
                    return Err(ProverError::DevelopmentKey {
                        path: paths.proving,
                        seed,
                    });
                }
                (KeyMode::Development { .. }, KeyOrigin::Development { .. }) => true,
                (_, KeyOrigin::Ceremony) => false,
            };
            // Read unchecked, compared with its .vk (cheap), then checked (slow: a subgroup
            // check per G2 point), so a mismatched pair fails in seconds.
            let pk: ProvingKey = read_key(&paths.proving, true)?;
            if self.mode == KeyMode::Production && paths.verifying.exists() {
                let vk: VerifyingKey = read_key(&paths.verifying, false)?;
                if vk != pk.vk {
                    return Err(ProverError::KeyMismatch {
                        proving: paths.proving,
                        verifying: paths.verifying,
                    });
                }
            }
            if !trusted {
                pk.check().map_err(|e| ProverError::KeyFile {
                    path: paths.proving.clone(),
                    reason: e.to_string(),
                })?;
            }
            let took = started.elapsed();
            (pk, KeySource::Disk { origin, took })
        } else {
            let KeyMode::Development { seed } = self.mode else {
                return Err(ProverError::KeyMissing {
                    shape,
                    path: paths.proving,
                });
            };
            tracing::info!(%shape, seed, "development setup (NOT FOR PRODUCTION)");
            let pk = groth16::dev_setup(shape, seed).map_err(ProverError::Setup)?;
            write_key(&paths.verifying, &pk.vk)?;
            let line = development_origin_line(seed) + "\n";
            durable::write(&paths.origin, line.as_bytes())
                .map_err(|e| ProverError::io(&paths.origin, e))?;
            write_key(&paths.proving, &pk)?;
            let took = started.elapsed();
            (pk, KeySource::Created { seed, took })
        };
        let pk = Arc::new(pk);
        loaded.insert(shape, pk.clone());
        Ok((pk, source))
    }

    /// The verifying key of `shape`: the loaded proving key's own, else the `.vk` file
    /// (without loading the much larger proving key), else the proving key's after loading
    /// it as [`KeyStore::load`] does.
    ///
    /// # Errors
    /// As [`KeyStore::load`].
    pub fn verifying_key(&self, shape: BatchShape) -> Result<Arc<VerifyingKey>, ProverError> {
        if let Some(pk) = self
            .proving
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&shape)
        {
            return Ok(Arc::new(pk.vk.clone()));
        }
        let mut cache = self
            .verifying
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(vk) = cache.get(&shape) {
            return Ok(vk.clone());
        }
        let paths = self.paths(shape);
        let vk = if paths.verifying.exists() {
            let origin = self.origin(shape)?;
            let trusted = match (self.mode, origin) {
                (KeyMode::Production, KeyOrigin::Development { seed }) => {
                    return Err(ProverError::DevelopmentKey {
                        path: paths.verifying,
                        seed,
                    });
                }
                (KeyMode::Development { .. }, KeyOrigin::Development { .. }) => true,
                (_, KeyOrigin::Ceremony) => false,
            };
            Arc::new(read_key(&paths.verifying, trusted)?)
        } else {
            drop(cache);
            let vk = Arc::new(self.proving_key(shape)?.vk.clone());
            cache = self
                .verifying
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            vk
        };
        cache.insert(shape, vk.clone());
        Ok(vk)
    }
}

/// Reads a key in [`groth16::key_to_bytes`]'s form, streaming from the file so a
/// multi-gigabyte proving key is never in memory twice.
fn read_key<K: CanonicalDeserialize>(path: &Path, trusted: bool) -> Result<K, ProverError> {
    let file = File::open(path).map_err(|e| ProverError::io(path, e))?;
    let reader = BufReader::with_capacity(1 << 20, file);
    let validate = if trusted { Validate::No } else { Validate::Yes };
    K::deserialize_with_mode(reader, Compress::No, validate).map_err(|e| ProverError::KeyFile {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

/// Writes a key in [`groth16::key_to_bytes`]'s form, atomically and durably.
fn write_key<K: CanonicalSerialize>(path: &Path, key: &K) -> Result<(), ProverError> {
    durable::write_with(path, |w| {
        key.serialize_uncompressed(w)
            .map_err(|e| io::Error::other(e.to_string()))
    })
    .map_err(|e| ProverError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: BatchShape = BatchShape::new(1, 1);

    #[test]
    fn origin_lines_parse_back() {
        assert_eq!(
            parse_origin(&development_origin_line(7)),
            KeyOrigin::Development { seed: 7 }
        );
        assert_eq!(
            parse_origin("ceremony: perpetual powers of tau, phase 2 by …"),
            KeyOrigin::Ceremony
        );
        assert_eq!(parse_origin(""), KeyOrigin::Ceremony);
    }

    #[test]
    fn production_stores_name_the_missing_key_and_refuse_development_keys() {
        let dir = tempfile::tempdir().unwrap();
        let prod = KeyStore::open(dir.path(), KeyMode::Production).unwrap();
        match prod.proving_key(SHAPE) {
            Err(ProverError::KeyMissing { path, .. }) => {
                assert_eq!(path, dir.path().join("c1-f1.pk"));
            }
            other => panic!("{other:?}"),
        }

        let dev = KeyStore::open(dir.path(), KeyMode::Development { seed: 3 }).unwrap();
        let (pk, source) = dev.load(SHAPE).unwrap();
        assert!(matches!(source, KeySource::Created { seed: 3, .. }));
        assert!(matches!(dev.load(SHAPE).unwrap().1, KeySource::Memory));
        let paths = dev.paths(SHAPE);
        assert!(
            fs::read_to_string(&paths.origin)
                .unwrap()
                .contains("NOT FOR PRODUCTION")
        );
        // The files are exactly the circuit crate's byte form of the keys.
        assert_eq!(
            fs::read(&paths.proving).unwrap(),
            groth16::key_to_bytes(&*pk).unwrap()
        );
        assert_eq!(
            fs::read(&paths.verifying).unwrap(),
            groth16::key_to_bytes(&pk.vk).unwrap()
        );

        // Another development store reads the cache, and it is the same key.
        let again = KeyStore::open(dir.path(), KeyMode::Development { seed: 3 }).unwrap();
        let (pk2, source) = again.load(SHAPE).unwrap();
        assert!(matches!(
            source,
            KeySource::Disk {
                origin: KeyOrigin::Development { seed: 3 },
                ..
            }
        ));
        assert_eq!(pk2.vk, pk.vk);
        assert_eq!(*again.verifying_key(SHAPE).unwrap(), pk.vk);

        assert!(matches!(
            prod.proving_key(SHAPE),
            Err(ProverError::DevelopmentKey { seed: 3, .. })
        ));

        // Relabelled as a ceremony's, it is validated, and its .vk must be its own.
        fs::remove_file(&paths.origin).unwrap();
        let mut wrong = pk.vk.clone();
        wrong.alpha_g1 = (wrong.alpha_g1 + wrong.alpha_g1).into();
        fs::write(&paths.verifying, groth16::key_to_bytes(&wrong).unwrap()).unwrap();
        let prod = KeyStore::open(dir.path(), KeyMode::Production).unwrap();
        assert!(matches!(
            prod.proving_key(SHAPE),
            Err(ProverError::KeyMismatch { .. })
        ));
        fs::write(&paths.verifying, groth16::key_to_bytes(&pk.vk).unwrap()).unwrap();
        let prod = KeyStore::open(dir.path(), KeyMode::Production).unwrap();
        assert_eq!(*prod.verifying_key(SHAPE).unwrap(), pk.vk);
        assert_eq!(prod.proving_key(SHAPE).unwrap().vk, pk.vk);

        // A damaged key file is a typed error, not a panic.
        fs::write(&paths.proving, b"not a key").unwrap();
        let prod = KeyStore::open(dir.path(), KeyMode::Production).unwrap();
        assert!(matches!(
            prod.proving_key(SHAPE),
            Err(ProverError::KeyFile { .. })
        ));
    }
}
