//! The server: the app's static files with the headers that enable wasm threads, and
//! `POST /thumbnail` + `POST /probe` on the native engine for clients that cannot run it.

use clap::{CommandFactory, Parser};
use thumbnail_server::Config;
use tracing_subscriber::EnvFilter;

fn main() -> std::io::Result<()> {
    // The same binary is the engine launcher (see thumbnail_sandbox::launcher).
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(thumbnail_sandbox::launcher::LAUNCHER_FLAG) {
        thumbnail_sandbox::launcher::main(&args[1..]);
    }
    serve()
}

#[tokio::main]
async fn serve() -> std::io::Result<()> {
    let config = Config::parse().validate().unwrap_or_else(|message| {
        Config::command()
            .error(clap::error::ErrorKind::ValueValidation, message)
            .exit()
    });
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,tower_http=info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log_json {
        logs.json().init();
    } else {
        logs.init();
    }

    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    tracing::info!(
        address = %listener.local_addr()?,
        www = %config.www().display(),
        engine = %config.engine_dir().display(),
        workers = config.workers(),
        queue = config.queue,
        max_upload = config.max_upload,
        max_uploads = config.max_uploads,
        temp_budget = config.temp_budget,
        max_connections = config.max_connections,
        "listening"
    );
    // The first line on stdout says where we listen (tests start us on port 0 and read it).
    println!("listening on http://{}", listener.local_addr()?);
    thumbnail_server::serve(listener, config, shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
    tracing::info!("shutting down");
}
