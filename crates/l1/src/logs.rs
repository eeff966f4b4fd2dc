//! Reading a contract's logs over a long block range in bounded `eth_getLogs` requests:
//! providers cap the range of one request (often at 10,000 blocks or fewer).
//!
//! Invariant: the logs come back in chain order (block, then index in the block), and none
//! that the node flags as removed (reorganized away).

use alloy::providers::Provider;
use alloy::rpc::types::{Filter, Log};
use alloy::transports::TransportError;

/// Every log of `filter` (without a block range) in `[from, head]`, read `range` blocks at a
/// time, in log order.
pub(crate) async fn logs_in_ranges<P: Provider>(
    l1: &P,
    filter: Filter,
    from: u64,
    head: u64,
    range: u64,
    mut progress: impl FnMut(u64),
) -> Result<Vec<Log>, TransportError> {
    let range = range.max(1);
    let mut logs = Vec::new();
    let mut start = from;
    while start <= head {
        let end = head.min(start.saturating_add(range - 1));
        let part = l1
            .get_logs(&filter.clone().from_block(start).to_block(end))
            .await?;
        // A log the node flags as removed was reorganized away.
        logs.extend(part.into_iter().filter(|log| !log.removed));
        progress(end);
        if end == head {
            break;
        }
        start = end + 1;
    }
    logs.sort_by_key(|log| (log.block_number, log.log_index));
    Ok(logs)
}
