import Domain

/// The projector's copy of the positions it last wrote, so that a batch does not read a
/// big position's every lot back from Postgres (a 10,000-lot position was 10,000 rows per
/// batch). Postgres stays the truth: an entry is used only when its version is the version
/// Postgres holds (one cheap query per batch), so a rolled-back batch, another projector
/// instance or an operator's replay can never make the cache lie; a mismatch reloads.
/// Only the projector's thread uses it.
public final class PositionCache {
    private var positions: [String: PositionState] = [:]
    /// Lots held, to bound the memory (a position counts for its lots, at least 1).
    private var weight = 0
    let maxWeight: Int

    public init(maxWeight: Int = 2_000_000) {
        self.maxWeight = maxWeight
    }

    /// The positions of `ids` as Postgres holds them (those it does not hold are absent).
    public func load(_ ids: [String], on connection: PostgresConnection) throws -> [String: PositionState] {
        guard !ids.isEmpty else { return [:] }
        let cachedIds = ids.filter { positions[$0] != nil }
        var result: [String: PositionState] = [:]
        var missing = ids.filter { positions[$0] == nil }
        if !cachedIds.isEmpty {
            let rows = try connection.execute("SELECT position_id, version FROM positions WHERE position_id = ANY($1::text[])",
                                              [.text(postgresArrayLiteral(cachedIds))]).rows
            var stored: [String: Int64] = [:]
            for row in rows { if let id = row[0], let version = row[1].flatMap({ Int64($0) }) { stored[id] = version } }
            for id in cachedIds {
                if let cached = positions[id], stored[id] == cached.version {
                    result[id] = cached
                } else {
                    forget(id)
                    if stored[id] != nil { missing.append(id) }
                }
            }
        }
        if !missing.isEmpty {
            let loaded = try ReadModels.loadPositions(missing, on: connection)
            for (id, position) in loaded {
                result[id] = position
                remember(position)
            }
        }
        return result
    }

    /// Records what a batch wrote (checked against Postgres before its next use).
    public func remember(_ position: PositionState) {
        forget(position.positionId)
        let cost = max(1, position.lots.count)
        if weight + cost > maxWeight {
            positions.removeAll(keepingCapacity: true)
            weight = 0
        }
        positions[position.positionId] = position
        weight += cost
    }

    public func forget(_ id: String) {
        if let old = positions.removeValue(forKey: id) { weight -= max(1, old.lots.count) }
    }

    public func removeAll() {
        positions.removeAll()
        weight = 0
    }
}
