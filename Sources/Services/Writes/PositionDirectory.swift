import Domain
import Synchronization
import Store

/// The indexes that cross clients: which client owns a position (to find its writer), and
/// which open positions hold a ticker (the work of a price batch or a corporate action).
/// Sharded, so that writers of different clients rarely meet on a lock, and only for a lookup.
final class PositionDirectory: Sendable {
    private static var shardCount: Int { 32 }
    /// position id → client id.
    private let owners: [Locked<[String: String]>]
    /// ticker → open position id → client id.
    private let holding: [Locked<[String: [String: String]]>]

    init() {
        owners = (0..<Self.shardCount).map { _ in Locked([:]) }
        holding = (0..<Self.shardCount).map { _ in Locked([:]) }
    }

    private func shard(_ key: String) -> Int {
        var hasher = Hasher()
        hasher.combine(key)
        return Int(UInt(bitPattern: hasher.finalize()) % UInt(Self.shardCount))
    }

    /// Records a position's owner and whether it is open.
    func index(_ position: PositionState) {
        owners[shard(position.positionId)].withLock { $0[position.positionId] = position.clientId }
        holding[shard(position.ticker)].withLock { holders in
            if position.status == .open {
                holders[position.ticker, default: [:]][position.positionId] = position.clientId
            } else {
                holders[position.ticker]?[position.positionId] = nil
                if holders[position.ticker]?.isEmpty == true { holders[position.ticker] = nil }
            }
        }
    }

    func owner(of positionId: String) -> String? {
        owners[shard(positionId)].withLock { $0[positionId] }
    }

    /// The open positions in `ticker`: position id → client id.
    func holders(of ticker: String) -> [String: String] {
        holding[shard(ticker)].withLock { $0[ticker] ?? [:] }
    }

    func removeAll() {
        for index in owners.indices { owners[index].withLock { $0 = [:] } }
        for index in holding.indices { holding[index].withLock { $0 = [:] } }
    }
}
