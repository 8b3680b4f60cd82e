//! Servers sharing their jobs on a real PostgreSQL (started by the test, as the `postgres` user)
//! and one store of job files, a real S3-compatible server (s3s-fs, started by the test) or one
//! folder: a job posted to one server is run by another and answered by either; a server killed
//! mid-job leaves its job to the other; 200 jobs posted at once all finish, each run once.

use std::path::Path;
use std::time::Duration;

use futures_util::future::join_all;
use reqwest::multipart::{Form, Part};
use reqwest::{Client, StatusCode};
use serde_json::Value;
use test_support::{eventually, fixture, Postgres, S3Server, Server, TestDir};

/// Where the servers of a cluster keep the jobs' files.
enum Files {
    Folder(TestDir),
    S3(S3Server),
}

/// Servers on one job store: the database and the files, of the test's own.
struct Cluster {
    postgres: Postgres,
    files: Files,
}

impl Cluster {
    /// The files on an S3-compatible server.
    fn on_s3() -> Cluster {
        Cluster {
            postgres: Postgres::start(),
            files: Files::S3(S3Server::start()),
        }
    }

    /// The files in one folder.
    fn in_a_folder() -> Cluster {
        Cluster {
            postgres: Postgres::start(),
            files: Files::Folder(TestDir::new("shared")),
        }
    }

    /// A server named `node` on the shared store, running `concurrency` jobs at once.
    fn server(&self, node: &str, concurrency: usize, extra: &[&str]) -> Server {
        let (files, env) = match &self.files {
            Files::Folder(dir) => (format!("file://{}/", dir.path().display()), Vec::new()),
            Files::S3(s3) => (s3.url("shared/"), s3.env()),
        };
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let concurrency = concurrency.to_string();
        let mut args = vec![
            "--jobs-database",
            &self.postgres.url,
            "--jobs-files",
            &files,
            "--node-name",
            node,
            "--job-concurrency",
            &concurrency,
            "--job-heartbeat",
            "1",
        ];
        args.extend_from_slice(extra);
        Server::start_with(Path::new(env!("CARGO_BIN_EXE_thumbnail-server")), &args, &env, None)
    }
}

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(120))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn submit(client: &Client, server: &Server, route: &str, video: Vec<u8>) -> String {
    let form = Form::new().part("video", Part::bytes(video).file_name("clip.mp4"));
    let r = client
        .post(server.url(route))
        .header("prefer", "respond-async")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

async fn job(client: &Client, server: &Server, id: &str) -> Value {
    client
        .get(server.url(&format!("/jobs/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn done(client: &Client, server: &Server, id: &str, limit: Duration) -> Value {
    let mut last = Value::Null;
    eventually("the job to be done", limit, async || {
        last = job(client, server, id).await;
        assert_ne!(last["status"], "failed", "{last}");
        last["status"] == "done"
    })
    .await;
    last
}

#[tokio::test]
async fn a_job_posted_to_one_server_is_run_by_another_and_answered_by_both_through_s3() {
    let cluster = Cluster::on_s3();
    let id = posted_to_one_run_by_another(&cluster).await;
    let Files::S3(s3) = &cluster.files else { unreachable!() };
    // Its result is on the object store; its input went once it was done.
    let objects = s3.objects("shared");
    assert!(
        objects.iter().any(|o| o.starts_with(&format!("shared/results/{id}/"))),
        "{objects:?}"
    );
    assert!(
        !objects.iter().any(|o| o == &format!("shared/inputs/{id}")),
        "{objects:?}"
    );
}

#[tokio::test]
async fn a_job_posted_to_one_server_is_run_by_another_and_answered_by_both_through_a_folder() {
    posted_to_one_run_by_another(&Cluster::in_a_folder()).await;
}

/// A job posted to a server that runs none is run by the other and answered by both; cancelled on
/// one, cancelled on both. Its id.
async fn posted_to_one_run_by_another(cluster: &Cluster) -> String {
    // `front` runs no jobs: it only accepts them and answers.
    let front = cluster.server("front", 0, &[]);
    let back = cluster.server("back", 2, &[]);
    let client = client();
    let video = std::fs::read(fixture("h264.mp4")).unwrap();
    let id = submit(&client, &front, "/thumbnail?width=64", video.clone()).await;
    let described = done(&client, &front, &id, Duration::from_secs(60)).await;
    assert_eq!(described["node"], "back", "{described}");
    assert_eq!(described["attempts"], 1);
    let from_front = client
        .get(front.url(&format!("/jobs/{id}/result")))
        .send()
        .await
        .unwrap();
    let from_back = client
        .get(back.url(&format!("/jobs/{id}/result")))
        .send()
        .await
        .unwrap();
    assert_eq!(from_front.status(), StatusCode::OK);
    assert_eq!(from_front.headers()["x-image-width"], "64");
    assert_eq!(from_front.bytes().await.unwrap(), from_back.bytes().await.unwrap());
    // Cancelled on one, cancelled on both.
    let slow = submit(
        &client,
        &front,
        "/frames?count=8",
        std::fs::read(fixture("h264-1080p.mp4")).unwrap(),
    )
    .await;
    let r = client.delete(back.url(&format!("/jobs/{slow}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(job(&client, &front, &slow).await["status"], "cancelled");
    id
}

#[tokio::test]
async fn a_server_killed_mid_job_leaves_it_to_the_other() {
    let cluster = Cluster::on_s3();
    let mut servers = [cluster.server("a", 1, &[]), cluster.server("b", 1, &[])];
    let client = client();
    let id = submit(
        &client,
        &servers[0],
        "/frames?count=8",
        std::fs::read(fixture("h264-1080p.mp4")).unwrap(),
    )
    .await;
    let mut runner = Value::Null;
    eventually("the job to run", Duration::from_secs(30), async || {
        let described = job(&client, &servers[0], &id).await;
        assert_ne!(
            described["status"], "done",
            "finished before it could be killed: {described}"
        );
        runner = described["node"].clone();
        described["status"] == "running"
    })
    .await;
    let (dead, alive) = if runner == "a" { (0, 1) } else { (1, 0) };
    servers[dead].kill();
    let described = done(&client, &servers[alive], &id, Duration::from_secs(90)).await;
    eprintln!("{runner} killed mid-job: {described}");
    assert_eq!(described["attempts"], 2, "{described}");
    assert_eq!(described["node"], if alive == 0 { "a" } else { "b" });
    let frames: Value = client
        .get(servers[alive].url(&format!("/jobs/{id}/result")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(frames["frames"].as_array().unwrap().len(), 8);
}

#[tokio::test]
async fn two_hundred_jobs_posted_at_once_each_finish_once() {
    let cluster = Cluster::on_s3();
    let room = ["--queue", "256", "--max-uploads", "256"];
    let servers = [cluster.server("a", 2, &room), cluster.server("b", 2, &room)];
    let client = client();
    let video = std::fs::read(fixture("h264.mp4")).unwrap();
    let posts = (0..200).map(|i| {
        let server = &servers[i % 2];
        let (client, video) = (&client, video.clone());
        async move { submit(client, server, "/thumbnail?width=32&format=jpeg", video).await }
    });
    let ids = join_all(posts).await;
    let mut by_node = std::collections::BTreeMap::new();
    for (i, id) in ids.iter().enumerate() {
        let described = done(&client, &servers[(i + 1) % 2], id, Duration::from_secs(180)).await;
        assert_eq!(described["attempts"], 1, "run once: {described}");
        *by_node
            .entry(described["node"].as_str().unwrap().to_owned())
            .or_insert(0) += 1;
    }
    eprintln!("200 jobs, run by {by_node:?}");
    assert_eq!(by_node.values().sum::<i32>(), 200);
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 200);
    let r = client
        .get(servers[0].url(&format!("/jobs/{}/result", ids[199])))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "image/jpeg");
}
