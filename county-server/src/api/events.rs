//! `GET /v1/events`: the staff's live stream as server-sent events, one per new action on a
//! dispute or time limit passing within the caller's scope (`service::events`).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::{Stream, StreamExt};

use super::{AppState, Authed};
use crate::error::Error;
use crate::service::events::{Subscription, sees};

/// A comment line this often keeps proxies and the server's own write-idle timeout from
/// closing a quiet stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub async fn events(
    State(st): State<AppState>,
    Authed(c): Authed,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Error> {
    let Subscription { rx, scope, permit } = st.county.subscribe(&c)?;
    let stream = BroadcastStream::new(rx).filter_map(move |m| {
        let _held = &permit; // the stream's place among the server's streams, while it lives
        match m {
            Ok(p) if sees(&scope, &p) => Event::default().event(p.event.kind.clone()).json_data(&p.event).ok().map(Ok),
            Ok(_) => None,
            Err(BroadcastStreamRecvError::Lagged(n)) => Some(Ok(Event::default().event("lagged").data(n.to_string()))),
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}
