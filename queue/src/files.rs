//! The jobs' files in an object store (`object_store`): a local folder by default, any store
//! `object_store::parse_url` knows by configuration. Every server sharing the jobs must see the
//! same store: the one that accepts a job stores its input, the one that runs it stores the result.
//!
//!   inputs/<job id>              the uploaded video, until the job is finished (in a local store
//!                                on the upload's file system, a hard link to it: no copy)
//!   results/<job id>/<run>/<name> what a run made (a run that loses the race deletes its own)

use std::path::Path as FsPath;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use tokio::io::AsyncWriteExt;

use crate::Error;

#[derive(Clone)]
pub struct Files {
    store: Arc<dyn ObjectStore>,
    /// The store's path below which the files live.
    root: Path,
    /// The folder, when the store is a local one: inputs are then linked in and read in place
    /// rather than copied in and out.
    local: Option<std::path::PathBuf>,
}

fn input(id: &str) -> String {
    format!("inputs/{id}")
}

impl Files {
    /// `url`: `file:///var/lib/thumbnails/objects`, `s3://bucket/prefix`, or any URL
    /// `object_store::parse_url` takes. A local folder is created if missing.
    pub fn open(url: &url::Url) -> Result<Files, Error> {
        if url.scheme() == "file" {
            let dir = url
                .to_file_path()
                .map_err(|()| Error::Config(format!("not a local folder: {url}")))?;
            std::fs::create_dir_all(&dir).map_err(|e| Error::Config(format!("{}: {e}", dir.display())))?;
            // Empty folders (a deleted job's results/<id>/<run>/) go with their last file.
            let store = object_store::local::LocalFileSystem::new_with_prefix(&dir)?.with_automatic_cleanup(true);
            return Ok(Files {
                store: Arc::new(store),
                root: Path::default(),
                local: Some(dir),
            });
        }
        // s3://bucket/prefix (any S3-compatible service): credentials, region and endpoint from
        // the environment's AWS_* variables (AWS_ENDPOINT for a service other than AWS).
        let options = std::env::vars()
            .filter(|(name, _)| name.starts_with("AWS_"))
            .map(|(name, value)| (name.to_ascii_lowercase(), value));
        let (store, root) = object_store::parse_url_opts(url, options)?;
        Ok(Files {
            store: Arc::from(store),
            root,
            local: None,
        })
    }

    fn path(&self, key: &str) -> Path {
        key.split('/').fold(self.root.clone(), |p, part| p.join(part))
    }

    /// Puts the file at `from` (an upload) into the store as the job's input: a hard link in a
    /// local store on the same file system, else a copy.
    pub async fn put_input(&self, id: &str, from: &FsPath) -> Result<(), Error> {
        if let Some(dir) = &self.local {
            // (The folder goes with its last file: made again here.)
            let linked = std::fs::create_dir_all(dir.join("inputs"))
                .and_then(|()| std::fs::hard_link(from, dir.join(input(id))));
            if linked.is_ok() {
                return Ok(());
            }
        }
        let mut file = tokio::fs::File::open(from).await?;
        let mut writer = BufWriter::new(self.store.clone(), self.path(&input(id)));
        tokio::io::copy(&mut file, &mut writer).await?;
        writer.shutdown().await?;
        Ok(())
    }

    /// The job's input, open for reading: in place in a local store, else copied into an unnamed
    /// temporary file. (Deleted meanwhile, a file open here stays readable.)
    pub async fn open_input(&self, id: &str) -> Result<std::fs::File, Error> {
        if let Some(dir) = &self.local {
            return Ok(std::fs::File::open(dir.join(input(id)))?);
        }
        let mut to = tokio::fs::File::from_std(tempfile::tempfile()?);
        let mut stream = self.store.get(&self.path(&input(id))).await?.into_stream();
        while let Some(chunk) = stream.next().await {
            to.write_all(&chunk?).await?;
        }
        to.flush().await?;
        let mut file = to.into_std().await;
        std::io::Seek::rewind(&mut file)?;
        Ok(file)
    }

    pub async fn delete_input(&self, id: &str) -> Result<(), Error> {
        match self.store.delete(&self.path(&input(id))).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The key of a file a run made.
    pub fn result_key(id: &str, run: &str, name: &str) -> String {
        format!("results/{id}/{run}/{name}")
    }

    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), Error> {
        self.store.put(&self.path(key), bytes.into()).await?;
        Ok(())
    }

    /// A stored file; `None` if it is not there.
    pub async fn get(&self, key: &str) -> Result<Option<Bytes>, Error> {
        match self.store.get(&self.path(key)).await {
            Ok(found) => Ok(Some(found.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes every file under `results/<id>/` (all runs) or, with `run`, under that run's.
    pub async fn delete_results(&self, id: &str, run: Option<&str>) -> Result<(), Error> {
        let prefix = match run {
            Some(run) => self.path(&format!("results/{id}/{run}")),
            None => self.path(&format!("results/{id}")),
        };
        let paths = self.store.list(Some(&prefix)).map_ok(|meta| meta.location).boxed();
        let mut deleted = self.store.delete_stream(paths);
        while let Some(result) = deleted.next().await {
            match result {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}
