//! HTTP tests against the real server binary on 127.0.0.1: every fixture, every parameter, every
//! bad input, the static headers, and that the server keeps serving after each failure.

use std::path::Path;
use std::time::Duration;

use reqwest::multipart::{Form, Part};
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use test_support::{cli_frame, colourfulness, fixture, mean_luma, psnr, Server, HDR_VIDEOS, VIDEOS};

const SAME_FRAME_DB: f64 = 35.0;

fn start(args: &[&str]) -> Server {
    Server::start(Path::new(env!("CARGO_BIN_EXE_thumbnail-server")), args)
}

fn client() -> Client {
    Client::builder().timeout(Duration::from_secs(60)).build().unwrap()
}

fn form_with(field: &str, name: &str) -> Form {
    let bytes = std::fs::read(fixture(name)).unwrap();
    Form::new().part(field.to_owned(), Part::bytes(bytes).file_name(name.to_owned()))
}

/// POST /thumbnail with the tutorial's form: field `video`.
async fn thumbnail(server: &Server, name: &str, query: &str) -> Response {
    client()
        .post(server.url(&format!("/thumbnail{query}")))
        .multipart(form_with("video", name))
        .send()
        .await
        .unwrap()
}

fn header<'a>(response: &'a Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

async fn image_of(response: Response) -> image::RgbaImage {
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.bytes().await.unwrap();
    image::load_from_memory(&bytes).unwrap().to_rgba8()
}

/// The response is a problem+json with this status and code; returns its detail.
async fn assert_problem(response: Response, status: StatusCode, code: &str) -> String {
    assert_eq!(response.status(), status, "status");
    assert_eq!(header(&response, "content-type"), "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["type"], format!("/problems/{code}"), "{body}");
    let detail = body["detail"].as_str().unwrap().to_owned();
    assert!(!detail.is_empty());
    detail
}

/// The server still makes a correct thumbnail.
async fn assert_still_serving(server: &Server) {
    let response = thumbnail(server, "h264.mp4", "?width=64").await;
    let img = image_of(response).await;
    assert_eq!(img.dimensions(), (64, 48));
}

#[tokio::test]
async fn tutorial_client_gets_a_png_of_the_frame_at_1s() {
    let server = start(&[]);
    let response = thumbnail(&server, "h264.mp4", "").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "content-type"), "image/png");
    assert_eq!(header(&response, "x-frame-time"), "1.000");
    assert_eq!(header(&response, "x-video-duration"), "3.000");
    assert_eq!(
        (header(&response, "x-image-width"), header(&response, "x-image-height")),
        ("320", "240")
    );
    assert_eq!(
        header(&response, "content-disposition"),
        "inline; filename=\"h264-thumbnail.png\""
    );
    let length: usize = header(&response, "content-length").parse().unwrap();
    let bytes = response.bytes().await.unwrap();
    assert_eq!(bytes.len(), length);
    let img = image::load_from_memory(&bytes).unwrap().to_rgba8();
    assert_eq!(img.dimensions(), (320, 240));
    let db = psnr(img.as_raw(), &cli_frame(&fixture("h264.mp4"), 1.0, 320, 240, 0));
    assert!(db >= SAME_FRAME_DB, "{db:.1} dB from the CLI's frame");
}

/// Every still comes with its placeholder: its average colour is the mean of the image's pixels,
/// and its ThumbHash, drawn back, has the image's aspect ratio, its colour (within 4 of 255 per
/// channel) and its quarters' (within 25); an animation comes without.
#[tokio::test]
async fn a_still_comes_with_its_placeholder() {
    use base64::Engine as _;
    let server = start(&[]);
    let response = thumbnail(&server, "h264.mp4", "?width=160").await;
    let (hash, average) = (
        header(&response, "x-thumbhash").to_owned(),
        header(&response, "x-average-color").to_owned(),
    );
    let img = image_of(response).await;
    let n = u64::from(img.width() * img.height());
    let mean: Vec<u64> = (0..3)
        .map(|c| (img.pixels().map(|p| u64::from(p.0[c])).sum::<u64>() + n / 2) / n)
        .collect();
    assert_eq!(average, format!("#{:02x}{:02x}{:02x}", mean[0], mean[1], mean[2]));
    let hash = base64::engine::general_purpose::STANDARD.decode(hash).unwrap();
    let (w, h, drawn) = thumbhash::thumb_hash_to_rgba(&hash).unwrap();
    let ratio = w as f64 / h as f64;
    assert!((ratio - 4.0 / 3.0).abs() < 0.1, "{w}x{h}");
    // What a sketch keeps: the colours of a coarse grid of the picture. Each cell's mean colour
    // in the drawn placeholder and in the image, 0-255 per channel, averaged over the cells.
    let cells = |rgba: &[u8], width: usize, height: usize, (nx, ny): (usize, usize)| -> Vec<f64> {
        let mut out = Vec::new();
        for cy in 0..ny {
            for cx in 0..nx {
                let (x0, x1, y0, y1) = (
                    cx * width / nx,
                    (cx + 1) * width / nx,
                    cy * height / ny,
                    (cy + 1) * height / ny,
                );
                for c in 0..3 {
                    let mut sum = 0.0;
                    for y in y0..y1 {
                        for x in x0..x1 {
                            sum += f64::from(rgba[(y * width + x) * 4 + c]);
                        }
                    }
                    out.push(sum / ((x1 - x0) * (y1 - y0)) as f64);
                }
            }
        }
        out
    };
    let off = |grid| {
        let (a, b) = (
            cells(&drawn, w, h, grid),
            cells(img.as_raw(), img.width() as usize, img.height() as usize, grid),
        );
        a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f64>() / a.len() as f64
    };
    let (whole, quarters) = (off((1, 1)), off((2, 2)));
    eprintln!(
        "placeholder {w}x{h}, {} bytes: colour {whole:.1} from the image's, its quarters' {quarters:.1}, 3x3 {:.1}, 4x3 {:.1}",
        hash.len(),
        off((3, 3)),
        off((4, 3))
    );
    // (testsrc2's eight colour bars are finer than a ThumbHash's colour terms: measured 2.4 and 20.8)
    assert!(whole <= 4.0 && quarters <= 25.0, "{whole:.1}, {quarters:.1}");
    let gif = thumbnail(&server, "h264.mp4", "?format=gif&duration=0.4&width=64").await;
    assert_eq!(gif.status(), StatusCode::OK);
    assert!(gif.headers().get("x-thumbhash").is_none());
}

#[tokio::test]
async fn every_fixture_gives_the_cli_frame() {
    let server = start(&[]);
    let cases = VIDEOS
        .iter()
        .map(|v| (v.file, v.display, v.rotation))
        .chain(["av1.mp4", "av1.ivf", "av1.obu", "alpha-sequence.avif"].map(|name| (name, (320, 240), 0)));
    for (name, (w, h), rotation) in cases {
        let response = thumbnail(&server, name, "?at=1").await;
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        let img = image_of(response).await;
        assert_eq!(img.dimensions(), (w, h), "{name}");
        let db = psnr(img.as_raw(), &cli_frame(&fixture(name), 1.0, w, h, rotation));
        assert!(db >= SAME_FRAME_DB, "{name}: {db:.1} dB from the CLI's frame");
    }
}

#[tokio::test]
async fn a_raw_video_body_works_too() {
    let server = start(&[]);
    for content_type in ["video/mp4", "application/octet-stream"] {
        let response = client()
            .post(server.url("/thumbnail?width=160"))
            .header("content-type", content_type)
            .body(std::fs::read(fixture("vp9.webm")).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(
            header(&response, "content-disposition"),
            "inline; filename=\"video-thumbnail.png\""
        );
        assert_eq!(image_of(response).await.dimensions(), (160, 120));
    }
}

#[tokio::test]
async fn every_parameter() {
    let server = start(&[]);
    // at: percent, clock time, past the end
    let r = thumbnail(&server, "h264.mp4", "?at=50%25").await; // 1.5 s: the next frame is at 1.52
    assert_eq!(header(&r, "x-frame-time"), "1.520");
    let r = thumbnail(&server, "h264.mp4", "?at=00:00:02.4").await;
    assert_eq!(header(&r, "x-frame-time"), "2.400");
    let r = thumbnail(&server, "short.mp4", "?at=10").await;
    assert_eq!(header(&r, "x-frame-time"), "0.480");
    // width / height: fit in the box, aspect kept, never enlarged
    assert_eq!(
        image_of(thumbnail(&server, "h264.mp4", "?width=100").await)
            .await
            .dimensions(),
        (100, 75)
    );
    assert_eq!(
        image_of(thumbnail(&server, "h264.mp4", "?height=60").await)
            .await
            .dimensions(),
        (80, 60)
    );
    assert_eq!(
        image_of(thumbnail(&server, "rotated.mp4", "?width=120&height=120").await)
            .await
            .dimensions(),
        (90, 120)
    );
    assert_eq!(
        image_of(thumbnail(&server, "h264.mp4", "?width=4000").await)
            .await
            .dimensions(),
        (320, 240)
    );
    // format and quality
    let reference = cli_frame(&fixture("h264.mp4"), 1.0, 320, 240, 0);
    let mut sizes = Vec::new();
    for (format, mime, ext) in [
        ("jpeg", "image/jpeg", "jpg"),
        ("webp", "image/webp", "webp"),
        ("png", "image/png", "png"),
    ] {
        for quality in [20, 95] {
            let r = thumbnail(&server, "h264.mp4", &format!("?format={format}&quality={quality}")).await;
            assert_eq!(header(&r, "content-type"), mime);
            assert_eq!(
                header(&r, "content-disposition"),
                format!("inline; filename=\"h264-thumbnail.{ext}\"")
            );
            let bytes = r.bytes().await.unwrap();
            sizes.push((format, quality, bytes.len()));
            let img = image::load_from_memory(&bytes).unwrap().to_rgba8();
            let db = psnr(img.as_raw(), &reference);
            // Lossy formats subsample chroma: testsrc2's sharp colour edges cost dB (WebP q95:
            // 27 dB). PNG is lossless and must be the CLI's frame.
            let floor = match (format, quality) {
                ("png", _) => SAME_FRAME_DB,
                (_, 95) => 25.0,
                _ => 18.0,
            };
            assert!(db >= floor, "{format} q{quality}: {db:.1} dB");
        }
    }
    assert!(
        sizes[0].2 < sizes[1].2 && sizes[2].2 < sizes[3].2,
        "lower quality, smaller file: {sizes:?}"
    );
    // mode: the long-GOP clip's only keyframe is at 0
    let r = thumbnail(&server, "long-gop.mp4", "?at=7&seek=keyframe").await;
    assert_eq!(header(&r, "x-frame-time"), "0.000");
    let r = thumbnail(&server, "long-gop.mp4", "?at=7&seek=exact").await;
    assert_eq!(header(&r, "x-frame-time"), "7.000");
}

#[tokio::test]
async fn probe_describes_the_video() {
    let server = start(&[]);
    let r = client()
        .post(server.url("/probe"))
        .multipart(form_with("video", "rotated.mp4"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let info: Value = r.json().await.unwrap();
    // The vocabulary's VideoInfo, as the browser's probe() gives it: the size as shown first.
    assert_eq!(
        info,
        serde_json::json!({ "duration": 3.0, "fps": 25.0, "width": 240, "height": 320,
                            "codedWidth": 320, "codedHeight": 240, "rotation": 90, "codec": "h264",
                            "hdr": null, "colorPrimaries": null, "colorTransfer": null, "colorMatrix": null })
    );
    let r = client()
        .post(server.url("/probe"))
        .multipart(form_with("video", "audio-only.m4a"))
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "no_video").await;
}

#[tokio::test]
async fn bad_inputs_get_their_problem_and_the_server_goes_on() {
    let server = start(&["--max-upload", "300000"]);
    let post_form = |form: Form, query: &str| {
        client()
            .post(server.url(&format!("/thumbnail{query}")))
            .multipart(form)
            .send()
    };

    let cases: Vec<(Form, &str, StatusCode, &str)> = vec![
        (
            form_with("file", "h264.mp4"),
            "",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            Form::new().text("title", "no file here"),
            "",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            form_with("video", "empty.mp4"),
            "",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            form_with("video", "truncated.mp4"),
            "",
            StatusCode::UNPROCESSABLE_ENTITY,
            "corrupt",
        ),
        (
            form_with("video", "text.txt"),
            "",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not_media",
        ),
        (
            form_with("video", "text-named.mp4"),
            "",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not_media",
        ),
        (
            form_with("video", "image.png"),
            "",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not_media",
        ),
        (
            form_with("video", "audio-only.m4a"),
            "",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "no_video",
        ),
        // What formats.h leaves out, though the server's FFmpeg reads it: a codec, and more
        // streams than the engine keeps.
        (
            form_with("video", "unlisted-codec.mov"),
            "",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_codec",
        ),
        (
            form_with("video", "many-streams.mkv"),
            "",
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
        (
            form_with("video", "mjpeg.avi"),
            "",
            StatusCode::PAYLOAD_TOO_LARGE,
            "upload_too_large",
        ),
        (
            form_with("video", "h264.mp4"),
            "?at=abc",
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            form_with("video", "h264.mp4"),
            "?at=-1",
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            form_with("video", "h264.mp4"),
            "?width=0",
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            form_with("video", "h264.mp4"),
            "?width=wide",
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            form_with("video", "h264.mp4"),
            "?format=bmp",
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            form_with("video", "h264.mp4"),
            "?quality=1000",
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            form_with("video", "h264.mp4"),
            "?seek=fast",
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            form_with("video", "h264.mp4"),
            "?mode=keyframe", // the seek mode is `seek`; `mode` is nothing here
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            form_with("video", "h264.mp4"),
            "?colour=red",
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
    ];
    for (form, query, status, code) in cases {
        let detail = assert_problem(post_form(form, query).await.unwrap(), status, code).await;
        eprintln!("{status} {code}: {detail}");
        assert_still_serving(&server).await;
    }

    // Not multipart, not a video type.
    let r = client()
        .post(server.url("/thumbnail"))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
    let r = client()
        .post(server.url("/thumbnail"))
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
    // Malformed multipart.
    let r = client()
        .post(server.url("/thumbnail"))
        .header("content-type", "multipart/form-data; boundary=xyz")
        .body("--xyz\r\nContent-Disposition: form-data; name=\"video\"\r\n\r\nabc")
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::BAD_REQUEST, "bad_request").await;
    let r = client()
        .post(server.url("/thumbnail"))
        .header("content-type", "multipart/form-data")
        .body("--xyz\r\n")
        .send()
        .await
        .unwrap();
    let detail = assert_problem(r, StatusCode::BAD_REQUEST, "bad_request").await;
    assert!(detail.contains("boundary"), "{detail}");
    // Too large by its declared length; and without one (chunked), found while streaming.
    let r = client()
        .post(server.url("/thumbnail"))
        .header("content-type", "video/mp4")
        .body(vec![0u8; 400_000])
        .send();
    assert_problem(r.await.unwrap(), StatusCode::PAYLOAD_TOO_LARGE, "upload_too_large").await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..40).map(|_| Ok(vec![0u8; 10_000])).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let r = client()
        .post(server.url("/thumbnail"))
        .header("content-type", "video/mp4")
        .body(body)
        .send();
    assert_problem(r.await.unwrap(), StatusCode::PAYLOAD_TOO_LARGE, "upload_too_large").await;
    // Far too large: refused without reading it all (the client may see the answer or a closed
    // connection, depending on how much it had sent).
    let r = client()
        .post(server.url("/thumbnail"))
        .header("content-type", "video/mp4")
        .body(vec![0u8; 20_000_000])
        .send();
    if let Ok(r) = r.await {
        assert_problem(r, StatusCode::PAYLOAD_TOO_LARGE, "upload_too_large").await;
    }
    assert_still_serving(&server).await;
    let r = client().get(server.url("/thumbnail")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn static_files_have_the_isolation_headers() {
    let server = start(&[]);
    for (path, mime) in [
        ("/", "text/html"),
        ("/engine/thumbnail-engine-st.wasm", "application/wasm"),
        ("/engine/thumbnail-engine-mt.wasm", "application/wasm"),
        ("/engine/thumbnail-engine-mt.js", "text/javascript"),
    ] {
        let r = client().get(server.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert!(
            header(&r, "content-type").starts_with(mime),
            "{path}: {}",
            header(&r, "content-type")
        );
        assert_eq!(header(&r, "cross-origin-opener-policy"), "same-origin", "{path}");
        assert_eq!(header(&r, "cross-origin-embedder-policy"), "require-corp", "{path}");
        assert_eq!(header(&r, "cross-origin-resource-policy"), "cross-origin", "{path}");
        assert_eq!(header(&r, "cache-control"), "no-cache", "{path}");
        assert!(r.headers().contains_key("last-modified"), "{path}");
    }
    // Paths that try to leave the served folders: hardening.rs, on raw TCP (an HTTP client
    // would resolve the `..` before sending).
}

#[tokio::test]
async fn health_metrics_and_openapi() {
    let server = start(&["--workers", "2"]);
    let health = server.health().await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["workers"], 2);

    thumbnail(&server, "h264.mp4", "").await;
    thumbnail(&server, "text.txt", "").await;
    // Methods nobody serves are counted under one label, whatever a client invents.
    for method in ["FOO1", "FOO2", "BREW"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = client().request(method, server.url("/healthz")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
    let r = client().get(server.url("/metrics")).send().await.unwrap();
    assert!(header(&r, "content-type").starts_with("application/openmetrics-text"));
    let text = r.text().await.unwrap();
    for line in [
        "thumbnail_http_requests_total{route=\"/thumbnail\",method=\"POST\",status=\"200\"} 1",
        "thumbnail_http_requests_total{route=\"/thumbnail\",method=\"POST\",status=\"415\"} 1",
        "thumbnail_errors_total{code=\"not_media\"} 1",
        "thumbnail_http_request_duration_seconds_count{route=\"/thumbnail\"} 2",
        "thumbnail_jobs_queued 0",
        "thumbnail_jobs_running 0",
        "thumbnail_http_requests_total{route=\"/healthz\",method=\"other\",status=\"405\"} 3",
    ] {
        assert!(text.lines().any(|l| l == line), "metrics lack {line:?}:\n{text}");
    }
    assert!(!text.contains("FOO1") && !text.contains("BREW"), "{text}");

    let spec: Value = client()
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    for path in ["/thumbnail", "/probe", "/healthz", "/metrics"] {
        assert!(spec["paths"][path].is_object(), "openapi lacks {path}");
    }
}

#[tokio::test]
async fn cors_lets_other_origins_post() {
    let server = start(&[]);
    let r = client()
        .request(reqwest::Method::OPTIONS, server.url("/thumbnail"))
        .header("origin", "http://127.0.0.1:9999")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    assert_eq!(header(&r, "access-control-allow-origin"), "*");
    let r = client()
        .post(server.url("/thumbnail"))
        .header("origin", "http://127.0.0.1:9999")
        .multipart(form_with("video", "h264.mp4"))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&r, "access-control-allow-origin"), "*");
    assert!(header(&r, "access-control-expose-headers").contains("x-frame-time"));
}

#[tokio::test]
async fn precompressed_siblings_are_sent_to_clients_that_accept_them() {
    let www = test_support::root().join(format!("target/test-www-{}", std::process::id()));
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), "<!doctype html><title>t</title>".repeat(50)).unwrap();
    let status = std::process::Command::new("brotli")
        .args(["-q", "11", "-f", "-k"])
        .arg(www.join("index.html"))
        .status();
    assert!(status.expect("brotli CLI").success());
    // As ./dev.sh does: the sibling gets its file's exact time (brotli keeps whole seconds only).
    let status = std::process::Command::new("touch")
        .arg("-r")
        .arg(www.join("index.html"))
        .arg(www.join("index.html.br"))
        .status();
    assert!(status.unwrap().success());
    let server = start(&["--www", www.to_str().unwrap()]);

    let r = client()
        .get(server.url("/"))
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&r, "content-encoding"), "br");
    assert_eq!(header(&r, "content-type"), "text/html");
    assert_eq!(header(&r, "cross-origin-embedder-policy"), "require-corp");
    assert_eq!(
        r.bytes().await.unwrap(),
        std::fs::read(www.join("index.html.br")).unwrap()
    );
    let r = client().get(server.url("/")).send().await.unwrap();
    assert!(r.headers().get("content-encoding").is_none());
    assert_eq!(r.bytes().await.unwrap(), std::fs::read(www.join("index.html")).unwrap());

    // The file changes and its sibling is now stale: the new file is sent, uncompressed.
    std::fs::write(www.join("index.html"), "<!doctype html><title>new</title>").unwrap();
    let r = client()
        .get(server.url("/index.html"))
        .header("accept-encoding", "br, gzip")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("content-encoding").is_none());
    assert_eq!(r.text().await.unwrap(), "<!doctype html><title>new</title>");
    std::fs::remove_dir_all(&www).unwrap();
}

/// Mean luma (0–255) of an RGBA image.
fn luma(image: &image::RgbaImage) -> f64 {
    let sum: f64 = image
        .pixels()
        .map(|p| 0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2]))
        .sum();
    sum / f64::from(image.width() * image.height())
}

#[tokio::test]
async fn at_auto_skips_black_and_fading_intros() {
    let server = start(&[]);
    // The picture itself, well after the intro, for comparison.
    let full = luma(&image_of(thumbnail(&server, "fade-in.mp4", "?at=6").await).await);
    for (name, intro_ends) in [("fade-in.mp4", 3.0), ("black-lead.mp4", 3.0), ("h264.mp4", 0.0)] {
        let r = thumbnail(&server, name, "?at=auto").await;
        let time: f64 = header(&r, "x-frame-time").parse().unwrap();
        let picked = luma(&image_of(r).await);
        eprintln!("{name}: at=auto picked {time} s, luma {picked:.0} (the full picture: {full:.0})");
        // Within 10-33 % of the video, and bright: at most 15 % dimmer than the full picture.
        assert!(
            time >= 0.1 * if name == "h264.mp4" { 3.0 } else { 10.0 } - 0.05,
            "{name}: {time}"
        );
        assert!(
            picked >= 0.85 * full,
            "{name}: picked a dark frame at {time} s ({picked:.0} vs {full:.0})"
        );
        if intro_ends > 0.0 {
            assert!(time >= intro_ends * 0.85, "{name}: {time} s is in the intro");
        }
    }
}

/// `fit`: cover, fill and pad give the box exactly in every format, a sheet's tiles and a GIF's
/// frames too; cover's picture is the contain picture's part at the focus, pixel for pixel (the
/// engine makes it the box's height, so nothing is resampled); pad's border is the background,
/// transparent by default; a fit that needs the box without it is refused.
#[tokio::test]
async fn fit_fills_the_box_as_asked() {
    let server = start(&[]);
    for format in ["png", "jpeg", "webp"] {
        for fit in ["cover", "fill", "pad"] {
            let query = format!("?width=200&height=100&fit={fit}&format={format}");
            let made = image_of(thumbnail(&server, "h264.mp4", &query).await).await;
            assert_eq!(made.dimensions(), (200, 100), "{query}");
        }
    }
    // h264.mp4 is 320x240: within 100 px of height, 133x100.
    let contain = image_of(thumbnail(&server, "h264.mp4", "?height=100").await).await;
    assert_eq!(contain.dimensions(), (133, 100));
    for (focus, x) in [("0,0.5", 0), ("0.5,0.5", 17), ("1,0", 33)] {
        let query = format!("?width=100&height=100&fit=cover&focus={focus}");
        let cover = image_of(thumbnail(&server, "h264.mp4", &query).await).await;
        let part = image::imageops::crop_imm(&contain, x, 0, 100, 100).to_image();
        assert_eq!(cover.as_raw(), part.as_raw(), "{query}: the part at x = {x}");
    }
    // A 4:3 picture in a 2:1 box: 133x100 in the middle, 33 columns of background each side.
    let pad = image_of(thumbnail(&server, "h264.mp4", "?width=200&height=100&fit=pad&background=ff0000").await).await;
    for x in [0, 32, 167, 199] {
        assert_eq!(pad.get_pixel(x, 50).0, [255, 0, 0, 255], "column {x}");
    }
    assert_ne!(pad.get_pixel(100, 50).0, [255, 0, 0, 255]);
    let clear = image_of(thumbnail(&server, "h264.mp4", "?width=200&height=100&fit=pad").await).await;
    assert_eq!(clear.get_pixel(0, 0).0[3], 0, "transparent by default");
    let fill = image_of(thumbnail(&server, "h264.mp4", "?width=50&height=200&fit=fill").await).await;
    assert_eq!(fill.dimensions(), (50, 200));
    let gif = image_of(
        thumbnail(
            &server,
            "h264.mp4",
            "?format=gif&duration=0.4&width=90&height=60&fit=cover",
        )
        .await,
    )
    .await;
    assert_eq!(gif.dimensions(), (90, 60));
    let r = client()
        .post(server.url("/sprite?count=4&columns=2&width=64&height=64&fit=cover&format=png"))
        .multipart(form_with("video", "h264.mp4"))
        .send()
        .await
        .unwrap();
    let sheet: Value = r.json().await.unwrap();
    assert_eq!(
        (&sheet["tileWidth"], &sheet["tileHeight"]),
        (&json!(64), &json!(64)),
        "{sheet}"
    );
    for (query, words) in [
        ("?width=100&fit=cover", "give both `width` and `height`"),
        ("?width=100&height=100&focus=0,0", "`focus` is for fit=cover"),
        (
            "?width=100&height=100&fit=crop",
            "`fit` must be contain, cover, fill or pad",
        ),
    ] {
        let detail = assert_problem(
            thumbnail(&server, "h264.mp4", query).await,
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        )
        .await;
        assert!(detail.contains(words), "{query}: {detail}");
    }
}

/// HDR phone videos come tone-mapped by default (`hdr=sdr`), near the SDR pictures they were made
/// from, in every operation; `hdr=keep` gives the coded values (washed out); anything else is a
/// 400 that names the choices.
#[tokio::test]
async fn hdr_videos_come_tone_mapped() {
    use base64::Engine as _;
    let server = start(&[]);
    for video in &HDR_VIDEOS {
        let sdr = image_of(thumbnail(&server, video.file, "?width=320&height=320").await).await;
        let kept = image_of(thumbnail(&server, video.file, "?width=320&height=320&hdr=keep").await).await;
        let original = video.original(1.0, sdr.width(), sdr.height());
        let colour = colourfulness(sdr.as_raw()) / colourfulness(&original);
        let luma = mean_luma(sdr.as_raw()) / mean_luma(&original);
        assert!(
            colour >= 0.7 && (luma - 1.0).abs() <= 0.15,
            "{}: {colour:.2}, {luma:.2}",
            video.file
        );
        assert!(
            colourfulness(kept.as_raw()) < 0.6 * colourfulness(sdr.as_raw()),
            "{}: keep",
            video.file
        );
    }
    // a sheet's tiles are tone-mapped too: its mean luma and colour near the still's
    let still = image_of(thumbnail(&server, "hdr-hlg.mp4", "?width=80").await).await;
    for hdr in ["sdr", "keep"] {
        let r = client()
            .post(server.url(&format!("/sprite?count=1&width=80&format=png&hdr={hdr}")))
            .multipart(form_with("video", "hdr-hlg.mp4"))
            .send()
            .await
            .unwrap();
        let sheet: Value = r.json().await.unwrap();
        let data = sheet["image"].as_str().unwrap().split_once(',').unwrap().1;
        let bytes = base64::engine::general_purpose::STANDARD.decode(data).unwrap();
        let tile = image::load_from_memory(&bytes).unwrap().to_rgba8();
        let ratio = colourfulness(tile.as_raw()) / colourfulness(still.as_raw());
        assert!(
            (ratio > 0.8) == (hdr == "sdr"),
            "sheet with hdr={hdr}: {ratio:.2} of the still's colour"
        );
    }
    let detail = assert_problem(
        thumbnail(&server, "hdr-hlg.mp4", "?hdr=pq").await,
        StatusCode::BAD_REQUEST,
        "invalid_argument",
    )
    .await;
    assert!(detail.contains("`hdr` must be sdr or keep"), "{detail}");
}

/// `format=thumbhash`: no image, the placeholder as JSON, of the frame in a 100 px box: the very
/// placeholder a 100 px still carries in its headers.
#[tokio::test]
async fn thumbhash_alone_is_the_placeholder_as_json() {
    let server = start(&[]);
    let still = thumbnail(&server, "h264.mp4", "?width=100&height=100").await;
    let hash = header(&still, "x-thumbhash");
    let colour = header(&still, "x-average-color");
    let r = thumbnail(&server, "h264.mp4", "?format=thumbhash").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "content-type"), "application/json");
    assert_eq!(header(&r, "x-thumbhash"), hash);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "thumbhash": hash, "averageColor": colour, "width": 100, "height": 75, "time": 1.0 })
    );
    for (query, words) in [
        ("?format=thumbhash&animated=true", "not thumbhash"),
        (
            "?format=gif&duration=1&fps=2&format=thumbhash",
            "`duration`, `fps` and `loop` are for animations",
        ),
    ] {
        let detail = assert_problem(
            thumbnail(&server, "h264.mp4", query).await,
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        )
        .await;
        assert!(detail.contains(words), "{query}: {detail}");
    }
}

/// A sheet's `seek`: `auto` (the default) takes the keyframes where the tiles are further apart
/// than they are (h264.mp4: a keyframe a second; 2 tiles 1.5 s apart: the keyframes at 0 and 2 s,
/// the CLI's frames there), and the exact frames where they are closer (6 tiles 0.5 s apart);
/// `exact` and `keyframe` as asked.
#[tokio::test]
async fn sheets_take_keyframes_where_the_tiles_are_further_apart() {
    let server = start(&[]);
    let tiles = |query: &'static str| {
        let server = &server;
        async move {
            let r = client()
                .post(server.url(&format!("/sprite?columns=6&width=80&format=png&{query}")))
                .multipart(form_with("video", "h264.mp4"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{query}");
            let sheet: Value = r.json().await.unwrap();
            let data = sheet["image"].as_str().unwrap().split_once(',').unwrap().1;
            let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data).unwrap();
            let image = image::load_from_memory(&bytes).unwrap().to_rgba8();
            let count = sheet["times"].as_array().unwrap().len() as u32;
            (0..count)
                .map(|i| {
                    image::imageops::crop_imm(&image, i * 80, 0, 80, 60)
                        .to_image()
                        .into_raw()
                })
                .collect::<Vec<_>>()
        }
    };
    let (auto, keyframe, exact) = (
        tiles("count=2").await,
        tiles("count=2&seek=keyframe").await,
        tiles("count=2&seek=exact").await,
    );
    assert_eq!(auto, keyframe, "2 tiles 1.5 s apart: keyframes");
    assert_ne!(auto, exact);
    for (tile, t) in auto.iter().zip([0.0, 2.0]) {
        let db = psnr(tile, &cli_frame(&fixture("h264.mp4"), t, 80, 60, 0));
        assert!(db >= SAME_FRAME_DB, "the keyframe at {t} s: {db:.1} dB");
    }
    for (tile, t) in exact.iter().zip([0.75, 2.25]) {
        let db = psnr(tile, &cli_frame(&fixture("h264.mp4"), t, 80, 60, 0));
        assert!(db >= SAME_FRAME_DB, "the frame at {t} s: {db:.1} dB");
    }
    assert_eq!(
        tiles("count=6").await,
        tiles("count=6&seek=exact").await,
        "6 tiles 0.5 s apart: exact"
    );
    let detail = assert_problem(
        client()
            .post(server.url("/sprite?seek=fast"))
            .multipart(form_with("video", "h264.mp4"))
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_argument",
    )
    .await;
    assert!(detail.contains("must be auto, exact or keyframe"), "{detail}");
}

#[tokio::test]
async fn sprite_tiles_frames_and_writes_their_track() {
    let server = start(&[]);
    let r = client()
        .post(server.url("/sprite?count=6&columns=4&width=80&format=png"))
        .multipart(form_with("video", "h264.mp4"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let sheet: Value = r.json().await.unwrap();
    assert_eq!(
        (
            &sheet["columns"],
            &sheet["rows"],
            &sheet["tileWidth"],
            &sheet["tileHeight"]
        ),
        (&json!(4), &json!(2), &json!(80), &json!(60))
    );
    let times: Vec<f64> = serde_json::from_value(sheet["times"].clone()).unwrap();
    assert_eq!(times, vec![0.25, 0.75, 1.25, 1.75, 2.25, 2.75]);
    // The storyboard as data: each tile's seconds and rectangle (4 a row of 80x60), as the cues say.
    let tiles = sheet["tiles"].as_array().unwrap();
    assert_eq!(tiles.len(), 6);
    assert_eq!(
        tiles[5],
        json!({ "start": 2.75, "end": 3.0, "x": 80, "y": 60, "width": 80, "height": 60 })
    );
    assert!(sheet["vtt"]
        .as_str()
        .unwrap()
        .contains("00:00:02.750 --> 00:00:03.000\nsprite.png#xywh=80,60,80,60"));
    let data = sheet["image"]
        .as_str()
        .unwrap()
        .strip_prefix("data:image/png;base64,")
        .unwrap();
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data).unwrap();
    let image = image::load_from_memory(&bytes).unwrap().to_rgba8();
    assert_eq!(image.dimensions(), (320, 120));
    // Each tile is the CLI's frame at its time (the first frame at or after it).
    for (i, t) in times.iter().enumerate() {
        let (x, y) = ((i % 4) as u32 * 80, (i / 4) as u32 * 60);
        let tile = image::imageops::crop_imm(&image, x, y, 80, 60).to_image();
        let want = cli_frame(&fixture("h264.mp4"), *t, 80, 60, 0);
        let db = psnr(tile.as_raw(), &want);
        assert!(db >= SAME_FRAME_DB, "tile {i} at {t}: {db:.1} dB");
    }
    // The track: one cue per tile, in order, pointing at its place.
    let vtt = sheet["vtt"].as_str().unwrap();
    assert!(vtt.starts_with("WEBVTT\n"));
    assert!(
        vtt.contains("\n00:00:00.250 --> 00:00:00.750\nsprite.png#xywh=0,0,80,60\n"),
        "{vtt}"
    );
    assert!(
        vtt.contains("\n00:00:02.750 --> 00:00:03.000\nsprite.png#xywh=80,60,80,60\n"),
        "{vtt}"
    );
    assert_eq!(vtt.matches(" --> ").count(), 6);

    // Limits: clear 400s, and the server goes on.
    for query in [
        "?count=0",
        "?count=401",
        "?columns=0",
        "?every=0",
        "?count=3&every=1",
        "?at=1",
    ] {
        let r = client()
            .post(server.url(&format!("/sprite{query}")))
            .multipart(form_with("video", "h264.mp4"))
            .send()
            .await
            .unwrap();
        let detail = assert_problem(r, StatusCode::BAD_REQUEST, "invalid_argument").await;
        eprintln!("{query}: {detail}");
    }
    assert_still_serving(&server).await;
    // A sheet above the pixel budget is refused before any frame is made: 413 too_large, naming
    // the limit.
    let small = start(&["--max-pixels", "1000000"]);
    let r = client()
        .post(small.url("/sprite?count=400&width=80"))
        .multipart(form_with("video", "h264.mp4"))
        .send()
        .await
        .unwrap();
    let detail = assert_problem(r, StatusCode::PAYLOAD_TOO_LARGE, "too_large").await;
    assert!(detail.contains("limit of 1000000 pixels (--max-pixels)"), "{detail}");
}

/// The frames of a GIF, as RGBA images.
fn gif_frames(bytes: &[u8]) -> Vec<image::RgbaImage> {
    use image::AnimationDecoder;
    let decoder = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(bytes)).unwrap();
    decoder.into_frames().map(|f| f.unwrap().into_buffer()).collect()
}

/// The frames of a GIF file as the ffmpeg CLI decodes them (RGBA, `width` x `height` each).
fn gif_frames_by_cli(path: &Path, width: u32, height: u32) -> Vec<image::RgbaImage> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "rawvideo", "-pix_fmt", "rgba", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
        .chunks_exact((width * height * 4) as usize)
        .map(|c| image::RgbaImage::from_raw(width, height, c.to_vec()).unwrap())
        .collect()
}

/// Mean PSNR of an animation's `frames` against the source frames they show: for the frame meant
/// for time t, the closest of the video's frames within 3 either side of t (the CLI's `fps` filter
/// and our engine may take neighbouring frames; this measures the colours, not the timing).
/// `source` holds the video's frames from `from` seconds at `rate` a second, at the animation's size.
fn mean_psnr(frames: &[image::RgbaImage], times: &[f64], source: &[Vec<u8>], from: f64, rate: f64) -> f64 {
    let sum: f64 = frames
        .iter()
        .zip(times)
        .map(|(f, t)| {
            let k = ((t - from) * rate).round() as i64;
            (k - 3..=k + 3)
                .filter_map(|j| source.get(usize::try_from(j).ok()?))
                .map(|s| psnr(f.as_raw(), s))
                .fold(f64::MIN, f64::max)
        })
        .sum();
    sum / frames.len() as f64
}

/// The video's frames from `from` for `seconds`, scaled to `width` x `height` by the CLI.
fn source_frames(file: &Path, from: f64, seconds: f64, width: u32, height: u32) -> Vec<Vec<u8>> {
    let out = std::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-ss",
            &from.to_string(),
            "-t",
            &seconds.to_string(),
            "-i",
        ])
        .arg(file)
        .args([
            "-vf",
            &format!("scale={width}:{height}"),
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgba",
            "-",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
        .chunks_exact((width * height * 4) as usize)
        .map(<[u8]>::to_vec)
        .collect()
}

#[tokio::test]
async fn the_tutorial_gif_request_gives_an_animation_as_good_as_ffmpeg_s() {
    let server = start(&[]);
    let name = "h264-1080p.mp4";
    // The tutorial's request: the form, format=gif, nothing else.
    let r = thumbnail(&server, name, "?format=gif").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "content-type"), "image/gif");
    assert_eq!(header(&r, "x-frame-time"), "1.000");
    let ours = r.bytes().await.unwrap().to_vec();
    let frames = gif_frames(&ours);
    assert_eq!(frames.len(), 15, "3 s at 5 fps");
    assert_eq!(frames[0].dimensions(), (720, 405), "720 wide, as -vf scale=720:-1");

    // ffmpeg's palettegen + paletteuse GIF of the same frames, the tutorial's command.
    let theirs_path = test_support::root().join(format!("target/test-gif-{}.gif", std::process::id()));
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-ss", "1", "-t", "3", "-i"])
        .arg(fixture(name))
        .args([
            "-filter_complex",
            "fps=5,scale=720:-1:flags=lanczos[x];[x]split[x1][x2];[x1]palettegen[p];[x2][p]paletteuse",
            "-f",
            "gif",
        ])
        .arg(&theirs_path)
        .status()
        .unwrap();
    assert!(status.success());
    let theirs = std::fs::read(&theirs_path).unwrap();
    let ours_path = theirs_path.with_extension("ours.gif");
    std::fs::write(&ours_path, &ours).unwrap();
    // Both decoded by the same decoder (the CLI's), both against the CLI's frames at those times.
    let (our_frames, their_frames) = (
        gif_frames_by_cli(&ours_path, 720, 405),
        gif_frames_by_cli(&theirs_path, 720, 405),
    );
    std::fs::remove_file(&theirs_path).unwrap();
    std::fs::remove_file(&ours_path).unwrap();
    assert_eq!((our_frames.len(), their_frames.len()), (15, 15));
    let times: Vec<f64> = (0..15).map(|i| 1.0 + f64::from(i) * 0.2).collect();
    let source = source_frames(&fixture(name), 0.8, 3.4, 720, 405);
    let (our_db, their_db) = (
        mean_psnr(&our_frames, &times, &source, 0.8, 25.0),
        mean_psnr(&their_frames, &times, &source, 0.8, 25.0),
    );
    let size = ours.len() as f64 / theirs.len() as f64;
    eprintln!(
        "tutorial GIF of {name}: ours {} bytes, {our_db:.2} dB; ffmpeg's {} bytes ({} frames), {their_db:.2} dB; size ratio {size:.2}",
        ours.len(),
        theirs.len(),
        their_frames.len()
    );
    assert!(our_db >= their_db, "ours {our_db:.2} dB < ffmpeg's {their_db:.2} dB");
    assert!(size <= 1.1, "ours is {size:.2}x ffmpeg's size");

    // Options: a shorter, faster, smaller one that plays once; and what is refused.
    let r = thumbnail(
        &server,
        "h264.mp4",
        "?format=gif&at=2.5&duration=2&fps=10&width=160&loop=false",
    )
    .await;
    let frames = gif_frames(&r.bytes().await.unwrap());
    assert_eq!(frames.len(), 5, "from 2.5 s to the end at 3 s: what exists");
    assert_eq!(frames[0].dimensions(), (160, 120));
    for query in [
        "?format=gif&fps=100",
        "?format=gif&duration=31",
        "?fps=5",
        "?format=gif&loop=2",
    ] {
        assert_problem(
            thumbnail(&server, "h264.mp4", query).await,
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        )
        .await;
    }
}

/// The frames of an animated WebP and how long each is shown (ms).
fn webp_frames(bytes: &[u8]) -> Vec<(image::RgbaImage, u32)> {
    use image::AnimationDecoder;
    let decoder = image::codecs::webp::WebPDecoder::new(std::io::Cursor::new(bytes)).unwrap();
    decoder
        .into_frames()
        .map(|f| {
            let f = f.unwrap();
            let (n, d) = f.delay().numer_denom_ms();
            (f.into_buffer(), n / d)
        })
        .collect()
}

#[tokio::test]
async fn an_animated_webp_is_the_gif_s_frames_in_webp() {
    let server = start(&[]);
    let r = thumbnail(&server, "h264.mp4", "?format=webp&animated=true&width=160").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "content-type"), "image/webp");
    assert_eq!(header(&r, "x-frame-time"), "1.000");
    assert!(header(&r, "content-disposition").ends_with(".webp\""));
    let frames = webp_frames(&r.bytes().await.unwrap());
    // From 1 s to the end (3 s) at 5 fps: 2 s of frames, each 200 ms (libwebp merges a frame equal
    // to the one before into it; the last lasts as long as the others).
    let shown: u32 = frames.iter().map(|(_, ms)| ms).sum();
    assert_eq!(shown, 2000, "{:?}", frames.iter().map(|(_, ms)| ms).collect::<Vec<_>>());
    assert!(frames.len() >= 8, "{} frames", frames.len());
    // Each frame shown at time t is the CLI's frame at t, as close to it as a still WebP of that
    // frame at the same quality (85) is, within 2 dB (4:2:0 lossy: ~24 dB on this test pattern at
    // 160 px; libwebp codes the changed rectangle over the frame before, measured up to 1.2 dB
    // below a still).
    let mut t = 1.0;
    for (i, (frame, ms)) in frames.iter().enumerate() {
        assert_eq!(frame.dimensions(), (160, 120));
        let want = cli_frame(&fixture("h264.mp4"), t, 160, 120, 0);
        let still = image_of(thumbnail(&server, "h264.mp4", &format!("?format=webp&width=160&at={t}")).await).await;
        let (db, still_db) = (psnr(frame.as_raw(), &want), psnr(still.as_raw(), &want));
        eprintln!("frame {i} at {t}: {db:.1} dB (a still WebP: {still_db:.1} dB)");
        assert!(
            db >= still_db - 2.0,
            "frame {i} at {t}: {db:.1} dB, a still WebP {still_db:.1} dB"
        );
        t += f64::from(*ms) / 1000.0;
    }
    // The animation options, as for a GIF; what is refused.
    let r = thumbnail(
        &server,
        "h264.mp4",
        "?format=webp&animated=1&at=0&duration=0.5&fps=10&width=80",
    )
    .await;
    let frames = webp_frames(&r.bytes().await.unwrap());
    assert_eq!(frames.iter().map(|(_, ms)| ms).sum::<u32>(), 500);
    assert_eq!(frames[0].0.dimensions(), (80, 60));
    for query in [
        "?format=png&animated=true",
        "?format=jpeg&animated=true",
        "?format=gif&animated=false",
        "?format=webp&duration=2",
        "?format=webp&animated=true&fps=31",
        "?format=webp&animated=maybe",
    ] {
        let detail = assert_problem(
            thumbnail(&server, "h264.mp4", query).await,
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        )
        .await;
        eprintln!("{query}: {detail}");
    }
    assert_still_serving(&server).await;
}

/// POST /frames with the tutorial's form.
async fn frames(server: &Server, name: &str, query: &str) -> Response {
    client()
        .post(server.url(&format!("/frames{query}")))
        .multipart(form_with("video", name))
        .send()
        .await
        .unwrap()
}

/// The answer's frames: (time, image).
async fn frames_of(response: Response, mime: &str) -> Vec<(f64, image::RgbaImage)> {
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["duration"], json!(3.0));
    body["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let data = f["image"]
                .as_str()
                .unwrap()
                .strip_prefix(&format!("data:{mime};base64,"))
                .unwrap();
            let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data).unwrap();
            let image = image::load_from_memory(&bytes).unwrap().to_rgba8();
            assert_eq!(
                (f["width"].as_u64().unwrap(), f["height"].as_u64().unwrap()),
                (u64::from(image.width()), u64::from(image.height()))
            );
            (f["time"].as_f64().unwrap(), image)
        })
        .collect()
}

#[tokio::test]
async fn frames_at_the_times_asked_are_the_cli_s() {
    let server = start(&[]);
    let video = fixture("h264.mp4");
    let got = frames_of(
        frames(&server, "h264.mp4", "?times=0.5,1,2.25&width=80").await,
        "image/png",
    )
    .await;
    assert_eq!(got.len(), 3);
    for ((time, image), t) in got.iter().zip([0.5, 1.0, 2.25]) {
        assert!((time - t).abs() < 0.05, "asked {t}, got {time}");
        assert_eq!(image.dimensions(), (80, 60));
        let db = psnr(image.as_raw(), &cli_frame(&video, t, 80, 60, 0));
        assert!(db >= SAME_FRAME_DB, "at {t}: {db:.1} dB");
    }
    // Spread, or one every so many seconds; as JPEG; keyframes (this clip has one a second).
    let spread = frames_of(
        frames(&server, "h264.mp4", "?count=4&width=64&format=jpeg").await,
        "image/jpeg",
    )
    .await;
    let times: Vec<f64> = spread.iter().map(|(t, _)| *t).collect();
    assert_eq!(times.len(), 4);
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    let every = frames_of(frames(&server, "h264.mp4", "?every=1&width=64").await, "image/png").await;
    assert_eq!(every.len(), 3, "0, 1 and 2 s of a 3 s clip");
    let keyframes = frames_of(
        frames(&server, "h264.mp4", "?times=0.9,1.5,2.7&seek=keyframe&width=64").await,
        "image/png",
    )
    .await;
    let times: Vec<f64> = keyframes.iter().map(|(t, _)| *t).collect();
    assert_eq!(times, vec![0.0, 1.0, 2.0], "the keyframe at or before each time");
    // Past the end: the last frame.
    let past = frames_of(frames(&server, "h264.mp4", "?times=2.9,60&width=64").await, "image/png").await;
    assert_eq!(past.len(), 2);
    assert!(past[1].0 < 3.0 && past[1].0 >= past[0].0);

    // Bad options are 400s before the upload is stored; a bad video is its own problem.
    for query in [
        "",
        "?times=2,1",
        "?times=a",
        "?count=401",
        "?count=2&times=1",
        "?count=2&format=gif",
        "?at=1",
    ] {
        let detail = assert_problem(
            frames(&server, "h264.mp4", query).await,
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        )
        .await;
        eprintln!("{query:?}: {detail}");
    }
    assert_problem(
        frames(&server, "text.txt", "?count=2").await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "not_media",
    )
    .await;
    assert_still_serving(&server).await;
    // All the frames of one answer are held to the pixel budget together (50 of 80x60: 240,000),
    // each counted before it is made.
    let small = start(&["--max-pixels", "200000"]);
    assert_eq!(
        frames_of(frames(&small, "h264.mp4", "?count=40&width=80").await, "image/png")
            .await
            .len(),
        40
    );
    let detail = assert_problem(
        frames(&small, "h264.mp4", "?count=50&width=80").await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
    )
    .await;
    assert!(detail.contains("limit of 200000 pixels (--max-pixels)"), "{detail}");
}
