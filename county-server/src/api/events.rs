//! `GET /v1/events`: the staff's live stream as server-sent events, one per new action on a
//! dispute or time limit passing within the caller's scope (`service::events`).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::{BroadcastStream, IntervalStream};
use tokio_stream::{Stream, StreamExt};

use super::{AppState, Authed};
use crate::error::Error;
use crate::service::events::{STREAM_LIFE, Subscription, sees};

/// A comment line this often shows the client (and any proxy) that a quiet stream is alive.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// What a stream sends next: an event, nothing (another scope's), or its end.
enum Next {
    Send(Event),
    Skip,
    End,
}

pub async fn events(
    State(st): State<AppState>,
    Authed(c): Authed,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Error> {
    let Subscription { rx, scope, held } = st.county.subscribe(&c)?;
    let events = BroadcastStream::new(rx).map(move |m| match m {
        Ok(p) if sees(&scope, &p) => {
            Event::default().event(p.event.kind.clone()).json_data(&p.event).map_or(Next::Skip, Next::Send)
        }
        Ok(_) => Next::Skip,
        Err(BroadcastStreamRecvError::Lagged(n)) => Next::Send(Event::default().event("lagged").data(n.to_string())),
    });
    // At the end of its life the stream asks the client to reconnect (authenticated again), then
    // ends a second later.
    let end = tokio::time::Instant::now() + STREAM_LIFE;
    let mut ticks = 0;
    let life = IntervalStream::new(tokio::time::interval_at(end, Duration::from_secs(1))).take(2).map(move |_| {
        ticks += 1;
        if ticks == 1 { Next::Send(Event::default().event("reconnect").data("")) } else { Next::End }
    });
    let stream = events.merge(life).map_while(move |next| {
        let _place = &held; // the stream's places among the server's streams, while it lives
        match next {
            Next::Send(e) => Some(Some(Ok(e))),
            Next::Skip => Some(None),
            Next::End => None,
        }
    });
    Ok(Sse::new(stream.filter_map(|e| e)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}
