//! POST /thumbnail, /probe, /sprite and /frames: the fallback for clients that cannot run the
//! wasm engine.

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use serde::Serialize;
use thumbnail_frames::sprite::{image_name, Sheet, SheetInfo};
use thumbnail_vocabulary::{Format, FramesOptions, SpriteOptions, ThumbnailOptions, VideoInfo};

use crate::engine_job::Job;
use crate::error::ApiError;
use crate::upload::{receive, refuse, Upload};
use crate::AppState;

pub const FRAME_TIME: HeaderName = HeaderName::from_static("x-frame-time");
pub const VIDEO_DURATION: HeaderName = HeaderName::from_static("x-video-duration");
pub const IMAGE_WIDTH: HeaderName = HeaderName::from_static("x-image-width");
pub const IMAGE_HEIGHT: HeaderName = HeaderName::from_static("x-image-height");

/// The query string as name/value pairs, parsed by the shared vocabulary.
type Params = Query<Vec<(String, String)>>;

/// The query's name/value pairs, for the vocabulary's `from_pairs`.
fn pairs(params: &Params) -> impl Iterator<Item = (&str, &str)> {
    params.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
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

pub async fn thumbnail(State(state): State<AppState>, params: Params, request: Request) -> Result<Response, ApiError> {
    let (options, request) = or_refuse(ThumbnailOptions::from_pairs(pairs(&params)), request)?;
    let upload = receive(&state, request).await?;
    let filename = download_name(upload.filename.as_deref(), options.format.extension());
    let job = Job {
        max_pixels: state.config.max_pixels,
        thumbnail: Some(options),
        sprite: None,
        frames: None,
    };
    let output = state.pool.run(job, video(&upload)?).await?;
    drop(upload); // the temporary file goes as soon as the frame is out
    let duration = output.info.duration;
    let frame = output
        .frame
        .ok_or_else(|| ApiError::Internal("the engine made no frame".into()))?;
    let (bytes, time, width, height) = (frame.bytes, frame.time, frame.width, frame.height);

    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(options.format.mime()));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let disposition = format!("inline; filename=\"{filename}\"");
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::try_from(disposition).expect("a sanitised name"),
    );
    headers.insert(
        FRAME_TIME,
        HeaderValue::try_from(format!("{time:.3}")).expect("a number"),
    );
    headers.insert(IMAGE_WIDTH, HeaderValue::from(width));
    headers.insert(IMAGE_HEIGHT, HeaderValue::from(height));
    if let Some(d) = duration {
        headers.insert(
            VIDEO_DURATION,
            HeaderValue::try_from(format!("{d:.3}")).expect("a number"),
        );
    }
    Ok(response)
}

pub async fn probe(State(state): State<AppState>, request: Request) -> Result<Json<VideoInfo>, ApiError> {
    let upload = receive(&state, request).await?;
    let job = Job::probe(state.config.max_pixels);
    let output = state.pool.run(job, video(&upload)?).await?;
    Ok(Json(output.info))
}

/// What POST /sprite answers: the sheet as both hosts describe it, and its image as a data URL.
#[derive(Serialize)]
pub struct SpriteAnswer {
    #[serde(flatten)]
    sheet: SheetInfo,
    /// `data:image/...;base64,...`
    image: String,
}

pub async fn sprite(
    State(state): State<AppState>,
    params: Params,
    request: Request,
) -> Result<Json<SpriteAnswer>, ApiError> {
    let (options, request) = or_refuse(SpriteOptions::from_pairs(pairs(&params)), request)?;
    let upload = receive(&state, request).await?;
    let job = Job {
        max_pixels: state.config.max_pixels,
        thumbnail: None,
        sprite: Some(options),
        frames: None,
    };
    let output = state.pool.run(job, video(&upload)?).await?;
    drop(upload);
    let (Some(frame), Some(sheet)) = (output.frame, output.sheet) else {
        return Err(ApiError::Internal("the engine made no sheet".into()));
    };
    let geometry = Sheet {
        columns: sheet.columns,
        rows: sheet.rows,
        tile_width: sheet.tile_width,
        tile_height: sheet.tile_height,
    };
    let name = image_name(options.format.extension());
    Ok(Json(SpriteAnswer {
        sheet: SheetInfo::new(&geometry, sheet.times, output.info.duration, &name),
        image: data_url(options.format.mime(), &frame.bytes),
    }))
}

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

pub async fn frames(
    State(state): State<AppState>,
    params: Params,
    request: Request,
) -> Result<Json<FramesAnswer>, ApiError> {
    let (options, request) = or_refuse(FramesOptions::from_pairs(pairs(&params)), request)?;
    let mime = options.format.unwrap_or(Format::Png).mime();
    let upload = receive(&state, request).await?;
    let job = Job {
        frames: Some(options),
        ..Job::probe(state.config.max_pixels)
    };
    let output = state.pool.run(job, video(&upload)?).await?;
    drop(upload);
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
    Ok(Json(FramesAnswer {
        duration: output.info.duration,
        frames,
    }))
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
