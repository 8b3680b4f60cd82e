//! POST /thumbnail, /probe, /sprite and /frames: the fallback for clients that cannot run the
//! wasm engine. Each is made now, or with `Prefer: respond-async` accepted as a job (async_api.rs)
//! whose result is the same [`Answer`].

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use thumbnail_frames::sprite::{image_name, SheetInfo};
use thumbnail_vocabulary::{Format, FramesOptions, SpriteOptions, ThumbnailOptions};

use crate::error::ApiError;
use crate::upload::{receive, refuse, Upload};
use crate::AppState;
use thumbnail_sandbox::work::{Output, Work};

pub const FRAME_TIME: HeaderName = HeaderName::from_static("x-frame-time");
pub const VIDEO_DURATION: HeaderName = HeaderName::from_static("x-video-duration");
pub const IMAGE_WIDTH: HeaderName = HeaderName::from_static("x-image-width");
pub const IMAGE_HEIGHT: HeaderName = HeaderName::from_static("x-image-height");
/// A still's placeholder: its ThumbHash (base64) and its average colour (`#rrggbb`).
pub const THUMBHASH: HeaderName = HeaderName::from_static("x-thumbhash");
pub const AVERAGE_COLOR: HeaderName = HeaderName::from_static("x-average-color");

/// The query string as name/value pairs, parsed by the shared vocabulary.
pub type Params = Query<Vec<(String, String)>>;

/// The query's name/value pairs, for the vocabulary's `from_pairs`.
pub fn pairs(params: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> {
    params.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

/// Bad parameters are refused (400) before the video is spooled: its body is drained, never stored.
fn or_refuse<T, E: Into<ApiError>>(parsed: Result<T, E>, request: Request) -> Result<(T, Request), ApiError> {
    match parsed {
        Ok(options) => Ok((options, request)),
        Err(error) => Err(refuse(request, error.into())),
    }
}

/// The spooled video, for the engine (a descriptor: the engine opens no path).
fn video(upload: &Upload) -> Result<std::fs::File, ApiError> {
    upload
        .file
        .as_file()
        .try_clone()
        .map_err(|e| ApiError::Internal(format!("the spooled upload: {e}")))
}

/// What the API does with a video: POST /thumbnail, /probe, /sprite, /frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Thumbnail,
    Probe,
    Sprite,
    Frames,
}

impl Operation {
    pub fn name(self) -> &'static str {
        match self {
            Operation::Thumbnail => "thumbnail",
            Operation::Probe => "probe",
            Operation::Sprite => "sprite",
            Operation::Frames => "frames",
        }
    }

    pub fn from_name(name: &str) -> Option<Operation> {
        [
            Operation::Thumbnail,
            Operation::Probe,
            Operation::Sprite,
            Operation::Frames,
        ]
        .into_iter()
        .find(|op| op.name() == name)
    }

    /// The operation's query read by the vocabulary (the same parser as the browser's).
    pub fn parse<'a>(self, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Asked, ApiError> {
        Ok(match self {
            Operation::Thumbnail => Asked::Thumbnail(ThumbnailOptions::from_pairs(pairs)?),
            Operation::Probe => match pairs.into_iter().next() {
                Some((name, _)) => {
                    return Err(ApiError::Engine(thumbnail_vocabulary::Error::new(
                        thumbnail_vocabulary::ErrorKind::InvalidArgument,
                        format!("unknown option `{name}` (POST /probe takes none)"),
                    )))
                }
                None => Asked::Probe,
            },
            Operation::Sprite => Asked::Sprite(SpriteOptions::from_pairs(pairs)?),
            Operation::Frames => Asked::Frames(FramesOptions::from_pairs(pairs)?),
        })
    }
}

/// An operation with its options.
#[derive(Debug, Clone)]
pub enum Asked {
    Thumbnail(ThumbnailOptions),
    Probe,
    Sprite(SpriteOptions),
    Frames(FramesOptions),
}

impl Asked {
    /// The engine job that makes it.
    pub fn job(&self, max_pixels: u32) -> Work {
        let probe = Work::probe(max_pixels);
        match self {
            Asked::Thumbnail(o) => Work {
                thumbnail: Some(*o),
                ..probe
            },
            Asked::Probe => probe,
            Asked::Sprite(o) => Work {
                sprite: Some(*o),
                ..probe
            },
            Asked::Frames(o) => Work {
                frames: Some(o.clone()),
                ..probe
            },
        }
    }

    /// The answer to what the engine made; `filename` is the uploaded file's name.
    pub fn answer(&self, output: Output, filename: Option<&str>) -> Result<Answer, ApiError> {
        match self {
            Asked::Thumbnail(options) => thumbnail_answer(options, output, filename),
            Asked::Probe => Answer::json(&output.info),
            Asked::Sprite(options) => sprite_answer(options, output),
            Asked::Frames(options) => frames_answer(options, output),
        }
    }
}

/// An answer, the same whether it is sent at once or kept as an asynchronous job's result: its
/// type, its own headers and its body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    #[serde(skip)]
    pub body: Vec<u8>,
    /// Parts a job's client may also fetch on their own (a sheet's image and its track, which
    /// points at the image by name): `/jobs/{id}/result/{name}`.
    #[serde(default)]
    pub parts: Vec<Part>,
}

/// A part of an answer, by name.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    pub name: String,
    pub content_type: String,
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

impl Answer {
    fn json(value: &impl Serialize) -> Result<Answer, ApiError> {
        Ok(Answer {
            content_type: "application/json".into(),
            headers: Vec::new(),
            body: serde_json::to_vec(value).map_err(|e| ApiError::Internal(format!("an answer as JSON: {e}")))?,
            parts: Vec::new(),
        })
    }
}

/// The answer as sent (a sheet's parts are in its body already: only a job keeps them apart too).
impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut response = self.body.into_response();
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::try_from(self.content_type) {
            headers.insert(header::CONTENT_TYPE, value);
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        for (name, value) in self.headers {
            if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                headers.insert(name, value);
            }
        }
        response
    }
}

/// Does the client prefer an answer at once, the job left to run (RFC 7240 `respond-async`)?
fn prefers_async(headers: &HeaderMap) -> bool {
    headers.get_all("prefer").iter().any(|value| {
        value.to_str().unwrap_or_default().split(',').any(|preference| {
            let token = preference.split([';', '=']).next().unwrap_or_default();
            token.trim().eq_ignore_ascii_case("respond-async")
        })
    })
}

/// Longest idempotency key kept.
const MAX_IDEMPOTENCY_KEY: usize = 255;

/// One operation, the same for every endpoint: the query refused before the body if bad, the
/// upload received, then the job made now or (`Prefer: respond-async`) accepted as a job.
async fn operate(
    state: AppState,
    operation: Operation,
    params: Params,
    request: Request,
) -> Result<Response, ApiError> {
    let (asked, request) = or_refuse(operation.parse(pairs(&params.0)), request)?;
    let headers = request.headers().clone();
    let key = match headers.get("idempotency-key").map(HeaderValue::to_str) {
        Some(Ok(key)) if !key.is_empty() && key.len() <= MAX_IDEMPOTENCY_KEY => Some(key.to_owned()),
        Some(_) => {
            return Err(refuse(
                request,
                ApiError::BadRequest(format!(
                    "an Idempotency-Key is 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"
                )),
            ))
        }
        None => None,
    };
    let asynchronous = prefers_async(&headers);
    if asynchronous {
        let length = headers
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        if let Err(full) = crate::async_api::room(&state, length).await {
            return Err(refuse(request, full));
        }
    }
    let upload = receive(&state, request).await?;
    if asynchronous {
        return crate::async_api::accept(&state, operation, &params.0, &upload, key.as_deref()).await;
    }
    let output = state
        .pool
        .run(asked.job(state.config.max_pixels), video(&upload)?)
        .await?;
    let filename = upload.filename.clone();
    drop(upload); // the temporary file goes as soon as the frame is out
    Ok(asked.answer(output, filename.as_deref())?.into_response())
}

pub async fn thumbnail(State(state): State<AppState>, params: Params, request: Request) -> Result<Response, ApiError> {
    operate(state, Operation::Thumbnail, params, request).await
}

pub async fn probe(State(state): State<AppState>, params: Params, request: Request) -> Result<Response, ApiError> {
    operate(state, Operation::Probe, params, request).await
}

pub async fn sprite(State(state): State<AppState>, params: Params, request: Request) -> Result<Response, ApiError> {
    operate(state, Operation::Sprite, params, request).await
}

pub async fn frames(State(state): State<AppState>, params: Params, request: Request) -> Result<Response, ApiError> {
    operate(state, Operation::Frames, params, request).await
}

/// The image, with its time, size, the video's duration and a download name.
fn thumbnail_answer(options: &ThumbnailOptions, output: Output, filename: Option<&str>) -> Result<Answer, ApiError> {
    let duration = output.info.duration;
    let frame = output
        .frame
        .ok_or_else(|| ApiError::Internal("the engine made no frame".into()))?;
    let name = download_name(filename, options.format.extension());
    let mut headers = vec![
        (
            header::CONTENT_DISPOSITION.to_string(),
            format!("inline; filename=\"{name}\""),
        ),
        (FRAME_TIME.to_string(), format!("{:.3}", frame.time)),
        (IMAGE_WIDTH.to_string(), frame.width.to_string()),
        (IMAGE_HEIGHT.to_string(), frame.height.to_string()),
    ];
    if let Some(d) = duration {
        headers.push((VIDEO_DURATION.to_string(), format!("{d:.3}")));
    }
    if let Some(placeholder) = frame.placeholder {
        headers.push((THUMBHASH.to_string(), placeholder.thumbhash));
        headers.push((AVERAGE_COLOR.to_string(), placeholder.average_color));
    }
    Ok(Answer {
        content_type: options.format.mime().into(),
        headers,
        body: frame.bytes,
        parts: Vec::new(),
    })
}

/// What POST /sprite answers: the sheet as both hosts describe it, and its image as a data URL.
#[derive(Serialize)]
pub struct SpriteAnswer {
    #[serde(flatten)]
    sheet: SheetInfo,
    /// `data:image/...;base64,...`
    image: String,
}

fn sprite_answer(options: &SpriteOptions, output: Output) -> Result<Answer, ApiError> {
    let (Some(frame), Some(sheet)) = (output.frame, output.sheet) else {
        return Err(ApiError::Internal("the engine made no sheet".into()));
    };
    let geometry = sheet.geometry();
    let name = image_name(options.format.extension());
    let info = SheetInfo::new(&geometry, sheet.times, output.info.duration, &name);
    let vtt = info.vtt.clone().into_bytes();
    let mut answer = Answer::json(&SpriteAnswer {
        sheet: info,
        image: data_url(options.format.mime(), &frame.bytes),
    })?;
    answer.parts = vec![
        Part {
            name,
            content_type: options.format.mime().into(),
            bytes: frame.bytes,
        },
        Part {
            name: TRACK_NAME.into(),
            content_type: "text/vtt".into(),
            bytes: vtt,
        },
    ];
    Ok(answer)
}

/// The name a sheet's WebVTT track goes by beside its image.
pub const TRACK_NAME: &str = "thumbnails.vtt";

/// What POST /frames answers: the video's duration and each frame, its image as a data URL.
#[derive(Serialize)]
pub struct FramesAnswer {
    duration: Option<f64>,
    frames: Vec<FrameAnswer>,
}

#[derive(Serialize)]
pub struct FrameAnswer {
    time: f64,
    width: u32,
    height: u32,
    /// `data:image/...;base64,...`
    image: String,
}

fn frames_answer(options: &FramesOptions, output: Output) -> Result<Answer, ApiError> {
    let mime = options.format.unwrap_or(Format::Png).mime();
    let frames = output
        .frames
        .into_iter()
        .map(|frame| FrameAnswer {
            time: frame.time,
            width: frame.width,
            height: frame.height,
            image: data_url(mime, &frame.bytes),
        })
        .collect();
    Answer::json(&FramesAnswer {
        duration: output.info.duration,
        frames,
    })
}

fn data_url(mime: &str, bytes: &[u8]) -> String {
    format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// `<stem>-thumbnail.<ext>` with only safe characters in the stem: nothing that could break out of
/// the header's quotes or name a path.
fn download_name(uploaded: Option<&str>, extension: &str) -> String {
    let base = uploaded
        .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n))
        .unwrap_or("video");
    let stem = base.rsplit_once('.').map_or(base, |(stem, _)| stem);
    let mut safe: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if safe.trim_matches('_').is_empty() {
        safe = "video".into();
    }
    format!("{safe}-thumbnail.{extension}")
}

#[cfg(test)]
mod tests {
    use super::download_name;

    #[test]
    fn download_names_are_safe() {
        assert_eq!(download_name(Some("clip.mp4"), "png"), "clip-thumbnail.png");
        assert_eq!(download_name(None, "jpg"), "video-thumbnail.jpg");
        assert_eq!(download_name(Some("../../etc/passwd"), "png"), "passwd-thumbnail.png");
        assert_eq!(download_name(Some("a\"b\r\nc.mov"), "png"), "a_b__c-thumbnail.png");
        assert_eq!(download_name(Some("ünï cödé.mkv"), "webp"), "_n__c_d_-thumbnail.webp");
        assert_eq!(download_name(Some("...."), "png"), "video-thumbnail.png");
    }
}
