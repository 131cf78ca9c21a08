//! How much export work may be in the server at once: a few exports may decompress their
//! bodies, and a byte budget is taken before an export is decoded and held until it is answered.
//!
//! An export's decoded request becomes spans (parsed JSON values), then prepared spans with
//! their MLflow JSON, then waits in the writer's queue for its commit: about five times its
//! protobuf size at the peak. Unbounded, ten concurrent exports of 8,000 spans (the Collector
//! sends up to ten batches of 8,192 by default) took the server to 781 MiB; with a 24 MiB
//! budget, about 300 MiB at the same throughput. Exports past the budget wait their turn (first
//! come, first served) holding only their compressed bodies, and past a few seconds are
//! answered 503 with `Retry-After`, which the Collector retries.
//!
//! The compressed bodies that wait are bounded too: an HTTP export takes room in a receive
//! budget (four times the decoded one) as its body arrives, all of a declared `Content-Length`
//! at once, and gives it back once decompressed. Without it, memory grew with the number of
//! senders: 128 uncompressed exports of 2.8 MB at once took the server to 706 MiB; with it,
//! 64 or 128 such senders peaked at 399-436 MiB. A body that finds no room stops being read (its
//! sender sees TCP back-pressure); past the timeout the rest of it is read and dropped, and it is
//! answered 503.
//!
//! gRPC exports get turns of their own, taken before tonic reads a message: tonic receives,
//! decompresses and decodes it in one step before any handler runs, so a turn there has to
//! cover all of that. Unbounded, twenty concurrent exports of 8,000 spans waited for budget
//! holding their decoded messages and took the server to 556 MiB.

use std::sync::Arc;
use std::time::Duration;

use rivulet_core::CoreError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Exports that may be decompressing or waiting for budget with their bodies decompressed:
/// each holds both forms of its body, so this bounds the memory of those that wait.
const DECOMPRESSING_EXPORTS: usize = 2;
/// gRPC exports that may be received, decompressed, decoded, or waiting for budget decoded, at
/// once. Separate from HTTP's turns, so a slow gRPC sender never holds up an HTTP export.
const RECEIVING_GRPC_EXPORTS: usize = 2;
/// The receive budget for compressed HTTP bodies, as a multiple of the decoded budget.
const RECEIVE_BUDGET_FACTOR: usize = 4;
/// Budget unit: permits count KiB, so a budget of gigabytes still fits a semaphore's `u32`.
const UNIT_BYTES: usize = 1024;
/// How long an export waits for room before it is answered 503.
const ADMISSION_TIMEOUT: Duration = Duration::from_secs(5);

/// The budget every transport's exports share.
#[derive(Debug)]
pub struct ExportAdmission {
    decompressing: Arc<Semaphore>,
    receiving_grpc: Arc<Semaphore>,
    permits: Arc<Semaphore>,
    capacity_units: u32,
    receiving: Arc<Semaphore>,
    receive_units: u32,
    timeout: Duration,
}

/// Room in the receive budget held by one export's compressed body; grows as the body arrives
/// and is given back when dropped.
#[derive(Debug, Default)]
pub struct ReceivedBody {
    permit: Option<OwnedSemaphorePermit>,
}

impl ReceivedBody {
    fn bytes(&self) -> usize {
        self.permit.as_ref().map_or(0, |permit| permit.num_permits() * UNIT_BYTES)
    }
}

/// Room taken by one export; released when dropped.
#[derive(Debug)]
pub struct Admitted {
    _permit: OwnedSemaphorePermit,
}

/// A turn to decompress an export's body; given back once the export is admitted.
#[derive(Debug)]
pub struct DecompressTurn {
    _permit: OwnedSemaphorePermit,
}

/// A turn for a gRPC export, from before its message is read until it is admitted.
#[derive(Debug)]
pub struct ReceiveTurn {
    _permit: OwnedSemaphorePermit,
}

fn overloaded() -> CoreError {
    CoreError::unavailable("span ingest is overloaded: too many export bytes in progress; retry later")
}

impl ExportAdmission {
    pub fn new(budget_bytes: usize) -> Self {
        let max_units = Semaphore::MAX_PERMITS.min(u32::MAX as usize);
        let capacity_units = (budget_bytes / UNIT_BYTES).clamp(1, max_units) as u32;
        let receive_units = (budget_bytes.saturating_mul(RECEIVE_BUDGET_FACTOR) / UNIT_BYTES).clamp(1, max_units) as u32;
        ExportAdmission {
            decompressing: Arc::new(Semaphore::new(DECOMPRESSING_EXPORTS)),
            receiving_grpc: Arc::new(Semaphore::new(RECEIVING_GRPC_EXPORTS)),
            permits: Arc::new(Semaphore::new(capacity_units as usize)),
            capacity_units,
            receiving: Arc::new(Semaphore::new(receive_units as usize)),
            receive_units,
            timeout: ADMISSION_TIMEOUT,
        }
    }

    /// Makes `received` cover `body_bytes` of a compressed body, waiting for room in the receive
    /// budget. A body larger than the whole budget takes all of it, and so arrives alone.
    pub async fn hold_received(&self, received: &mut ReceivedBody, body_bytes: usize) -> Result<(), CoreError> {
        let wanted = body_bytes.div_ceil(UNIT_BYTES).min(self.receive_units as usize);
        let held = received.bytes() / UNIT_BYTES;
        if wanted <= held {
            return Ok(());
        }
        let more = self.take(&self.receiving, (wanted - held) as u32).await?;
        match &mut received.permit {
            Some(permit) => permit.merge(more),
            None => received.permit = Some(more),
        }
        Ok(())
    }

    /// Compressed body bytes held by HTTP exports not yet decompressed.
    pub fn received_bytes(&self) -> usize {
        (self.receive_units as usize - self.receiving.available_permits()) * UNIT_BYTES
    }

    /// Units an export of `request_bytes` takes: at least one, at most the whole budget (an
    /// export larger than the budget runs alone, within the body limit).
    fn units(&self, request_bytes: usize) -> u32 {
        (request_bytes.div_ceil(UNIT_BYTES)).clamp(1, self.capacity_units as usize) as u32
    }

    /// Waits for a turn to decompress an export's body. Held until [`ExportAdmission::admit`]
    /// answers, so only a few exports wait for budget with decompressed bodies; the rest wait
    /// with their compressed bodies.
    pub async fn start_decompressing(&self) -> Result<DecompressTurn, CoreError> {
        Ok(DecompressTurn { _permit: self.take(&self.decompressing, 1).await? })
    }

    /// Waits for a turn to receive a gRPC export; held until [`ExportAdmission::admit`] answers,
    /// so only a few gRPC exports hold a message that is not yet admitted.
    pub async fn start_receiving_grpc(&self) -> Result<ReceiveTurn, CoreError> {
        Ok(ReceiveTurn { _permit: self.take(&self.receiving_grpc, 1).await? })
    }

    /// gRPC exports being received or waiting for budget.
    pub fn receiving_grpc(&self) -> usize {
        RECEIVING_GRPC_EXPORTS - self.receiving_grpc.available_permits()
    }

    /// Waits for room for an export of `request_bytes` (its decompressed size).
    pub async fn admit(&self, request_bytes: usize) -> Result<Admitted, CoreError> {
        Ok(Admitted { _permit: self.take(&self.permits, self.units(request_bytes)).await? })
    }

    /// Waits for `permits` of `semaphore`, or answers that the server is overloaded once the
    /// wait passes the timeout.
    async fn take(&self, semaphore: &Arc<Semaphore>, permits: u32) -> Result<OwnedSemaphorePermit, CoreError> {
        match tokio::time::timeout(self.timeout, semaphore.clone().acquire_many_owned(permits)).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(overloaded()),
        }
    }

    /// Bytes of budget free now.
    pub fn available_bytes(&self) -> usize {
        self.permits.available_permits() * UNIT_BYTES
    }

    /// Bytes of budget taken by exports not yet answered.
    pub fn in_flight_bytes(&self) -> usize {
        self.budget_bytes() - self.available_bytes()
    }

    /// The whole budget, in bytes (the configured size, rounded down to whole units).
    pub fn budget_bytes(&self) -> usize {
        self.capacity_units as usize * UNIT_BYTES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn exports_past_the_budget_wait_and_an_oversized_one_runs_alone() {
        let admission = ExportAdmission::new(10 * UNIT_BYTES);
        assert_eq!(admission.units(0), 1, "an empty export still takes a unit");
        assert_eq!(admission.units(UNIT_BYTES + 1), 2);
        assert_eq!(admission.units(1 << 30), 10, "larger than the budget: takes all of it");

        let first = admission.admit(6 * UNIT_BYTES).await.unwrap();
        assert_eq!((admission.available_bytes(), admission.in_flight_bytes()), (4 * UNIT_BYTES, 6 * UNIT_BYTES));
        let waiting = admission.admit(6 * UNIT_BYTES);
        tokio::pin!(waiting);
        assert!(tokio::time::timeout(Duration::from_millis(50), &mut waiting).await.is_err(), "no room: the second export waits");
        drop(first);
        let second = waiting.await.unwrap();
        assert_eq!(admission.available_bytes(), 4 * UNIT_BYTES);
        drop(second);
        let whole = admission.admit(1 << 30).await.unwrap();
        assert_eq!(admission.available_bytes(), 0);
        drop(whole);
        assert_eq!(admission.available_bytes(), 10 * UNIT_BYTES, "every unit comes back");
        assert_eq!(admission.budget_bytes(), 10 * UNIT_BYTES);
    }

    #[tokio::test]
    async fn only_a_few_exports_decompress_at_once() {
        let admission = ExportAdmission { timeout: Duration::from_millis(20), ..ExportAdmission::new(UNIT_BYTES) };
        let mut turns = Vec::new();
        for _ in 0..DECOMPRESSING_EXPORTS {
            turns.push(admission.start_decompressing().await.unwrap());
        }
        let error = admission.start_decompressing().await.unwrap_err();
        assert_eq!(error.code, rivulet_core::ErrorCode::TemporarilyUnavailable);
        turns.pop();
        admission.start_decompressing().await.expect("a turn given back is taken again");

        let mut grpc = Vec::new();
        for _ in 0..RECEIVING_GRPC_EXPORTS {
            grpc.push(admission.start_receiving_grpc().await.expect("HTTP's turns are not gRPC's"));
        }
        assert_eq!(admission.receiving_grpc(), RECEIVING_GRPC_EXPORTS);
        assert_eq!(admission.start_receiving_grpc().await.unwrap_err().code, rivulet_core::ErrorCode::TemporarilyUnavailable);
        grpc.clear();
        assert_eq!(admission.receiving_grpc(), 0);
    }

    #[tokio::test]
    async fn compressed_bodies_share_a_receive_budget() {
        let admission = ExportAdmission { timeout: Duration::from_millis(20), ..ExportAdmission::new(2 * UNIT_BYTES) };
        assert_eq!(admission.receive_units as usize, 2 * RECEIVE_BUDGET_FACTOR);
        let mut first = ReceivedBody::default();
        // A body grows its hold as it arrives; holding less than it has is a no-op.
        admission.hold_received(&mut first, 3 * UNIT_BYTES).await.unwrap();
        admission.hold_received(&mut first, 5 * UNIT_BYTES - 10).await.unwrap();
        admission.hold_received(&mut first, UNIT_BYTES).await.unwrap();
        assert_eq!(admission.received_bytes(), 5 * UNIT_BYTES);
        // Room for three more units, not four: the second body waits, then is unavailable.
        let mut second = ReceivedBody::default();
        admission.hold_received(&mut second, 3 * UNIT_BYTES).await.unwrap();
        let error = admission.hold_received(&mut second, 4 * UNIT_BYTES).await.unwrap_err();
        assert_eq!(error.code, rivulet_core::ErrorCode::TemporarilyUnavailable);
        drop(first);
        admission.hold_received(&mut second, 4 * UNIT_BYTES).await.expect("room given back is taken again");
        drop(second);
        assert_eq!(admission.received_bytes(), 0, "every unit comes back");
        // Larger than the whole budget: takes all of it.
        let mut huge = ReceivedBody::default();
        admission.hold_received(&mut huge, 1 << 30).await.unwrap();
        assert_eq!(admission.received_bytes(), 2 * RECEIVE_BUDGET_FACTOR * UNIT_BYTES);
    }

    #[tokio::test]
    async fn an_export_that_finds_no_room_in_time_is_unavailable() {
        let admission = ExportAdmission { timeout: Duration::from_millis(20), ..ExportAdmission::new(4 * UNIT_BYTES) };
        let _held = admission.admit(4 * UNIT_BYTES).await.unwrap();
        let error = admission.admit(1).await.unwrap_err();
        assert_eq!(error.code, rivulet_core::ErrorCode::TemporarilyUnavailable);
        assert!(error.message.contains("retry"), "{}", error.message);
    }
}
