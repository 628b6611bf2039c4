import Domain
import HoldingsProto
import Store

/// One client's write-side state: its positions, the outcomes of its request ids, its
/// wash-sale ledger, its rebalancing schedule and plans. Owned by the client's writer
/// (CommandExecutor): only events the log acknowledged change it, through `apply`.
struct ClientBook: CommandState {
    /// What a recorded event changes: a position (the state after the event), or the
    /// client itself (rebalancing runs and schedules).
    enum Change: Sendable {
        case position(Ultracore_Holdings_V1_Event, after: PositionState)
        case client(Ultracore_Holdings_V1_Event)

        var event: Ultracore_Holdings_V1_Event {
            switch self {
            case .position(let event, _), .client(let event): event
            }
        }

        /// The same change with an attribute set on its event.
        func attributed(_ key: String, _ value: String) -> Change {
            switch self {
            case .position(var event, let after):
                event.attributes[key] = value
                return .position(event, after: after)
            case .client(var event):
                event.attributes[key] = value
                return .client(event)
            }
        }
    }

    struct ScheduleEntry: Sendable {
        var schedule: Ultracore_Holdings_V1_RebalancingSchedule
        var version: Int64
    }

    var positions: [String: PositionState] = [:]
    /// Position ids ordered by (opened_at, position_id).
    var order: [String] = []
    /// ticker → id of the open position.
    var openByTicker: [String: String] = [:]
    /// The open positions' valuation figures sorted by ticker: their report order (one open
    /// position per ticker), kept as positions change so a portfolio read neither sorts nor
    /// looks anything up.
    var openSummaries: [PositionSummary] = []
    /// request id → outcome (writes of this client).
    var requests: [String: RequestRecord] = [:]
    /// ticker → losses of sales with shares not yet matched by replacement shares.
    var washLosses: [String: [WashLoss]] = [:]
    var schedule: ScheduleEntry?
    /// Id of the last event applied here ("" after a reload): the monitoring agent evaluates a
    /// client only once it has seen the client's latest event.
    var lastEventId = ""
    /// Rebalancing plans by id (kept 24 hours, in memory).
    var plans: [String: StoredPlan] = [:]
    /// plan id → its execution (a plan executes once).
    var executions: [String: RequestRecord] = [:]
    /// The last write may or may not be in the log: refused until confirmed against it.
    var unconfirmed = false

    init() {}

    static func event(of change: Change) -> Ultracore_Holdings_V1_Event { change.event }

    init(positions: [PositionState], requests: [String: RequestRecord], washLosses: [String: [WashLoss]], schedule: ScheduleEntry?) {
        for position in positions { store(position, keepingTickers: false) }
        // One sort, not a search and an array insertion per position (quadratic for a big client).
        order = self.positions.values.sorted { ($0.openedAt, $0.positionId) < ($1.openedAt, $1.positionId) }.map(\.positionId)
        openSummaries = openByTicker.values.compactMap { self.positions[$0]?.summary }.sorted { $0.ticker < $1.ticker }
        self.requests = requests
        self.washLosses = washLosses
        self.schedule = schedule
    }

    mutating func apply(_ change: Change) {
        let event = change.event
        lastEventId = event.eventId
        if !event.requestId.isEmpty, let digest = event.attributes[EventAttributes.requestDigest] {
            requests[event.requestId] = RequestRecord(
                requestId: event.requestId, fingerprint: digest,
                outcome: .event(aggregateId: event.aggregateId, version: event.aggregateVersion, eventId: event.eventId))
        }
        switch change {
        case .position(let event, let after):
            index(after)
            var losses = washLosses[after.ticker] ?? []
            WashSales.apply(event, to: &losses)
            washLosses[after.ticker] = losses.isEmpty ? nil : losses
        case .client(let event):
            if case .rebalancingScheduled(let scheduled)? = event.payload, let schedule = scheduled.schedule {
                self.schedule = ScheduleEntry(schedule: schedule, version: event.aggregateVersion)
            }
        }
    }

    /// Stores a position's state, keeping the open-by-ticker index and the order.
    mutating func index(_ position: PositionState) {
        let isNew = positions[position.positionId] == nil
        store(position)
        if isNew {
            // A search for its place, not a sort: a client's 20,000th position costs log n.
            order.insert(position.positionId, at: firstIndex(after: (position.openedAt, position.positionId)))
        }
    }

    /// Stores a position's state and keeps the open-by-ticker index and, unless the caller
    /// sorts them after a bulk load, the sorted open tickers (not the order).
    private mutating func store(_ position: PositionState, keepingTickers: Bool = true) {
        positions[position.positionId] = position
        if position.status == .open {
            openByTicker[position.ticker] = position.positionId
            if keepingTickers {
                let index = tickerIndex(position.ticker)
                if index < openSummaries.count && openSummaries[index].ticker == position.ticker {
                    openSummaries[index] = position.summary
                } else {
                    openSummaries.insert(position.summary, at: index)
                }
            }
        } else if openByTicker[position.ticker] == position.positionId {
            openByTicker[position.ticker] = nil
            if keepingTickers {
                let index = tickerIndex(position.ticker)
                if index < openSummaries.count && openSummaries[index].ticker == position.ticker { openSummaries.remove(at: index) }
            }
        }
    }

    /// Where `ticker` is or goes in `openSummaries` (binary search).
    private func tickerIndex(_ ticker: String) -> Int {
        var low = 0, high = openSummaries.count
        while low < high {
            let middle = (low + high) / 2
            if openSummaries[middle].ticker < ticker { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// The index in `order` of the first position whose (opened_at, position_id) is after `key`
    /// (ids are unique, so for a new position's own key that is where it goes).
    private func firstIndex(after key: (Instant, String)) -> Int {
        var low = 0, high = order.count
        while low < high {
            let middle = (low + high) / 2
            if let position = positions[order[middle]], (position.openedAt, position.positionId) <= key { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// The open position in `ticker`, if any.
    func open(_ ticker: String) -> PositionState? {
        openByTicker[ticker].flatMap { positions[$0] }
    }

    /// Takes `reloaded`'s positions with every index kept beside them (order, open by ticker,
    /// open summaries): a client confirmed against the log.
    mutating func replacePositions(with reloaded: ClientBook) {
        positions = reloaded.positions
        order = reloaded.order
        openByTicker = reloaded.openByTicker
        openSummaries = reloaded.openSummaries
        lastEventId = ""
    }

    /// The open positions by ticker, without copying them (a snapshot of the book's tables).
    var openView: OpenPositions { OpenPositions(byTicker: openByTicker, positions: positions) }

    /// Positions in (opened_at, position_id) order after `after`, at most `limit`.
    func page(includeClosed: Bool, after: (Instant, String)?, limit: Int) -> (page: [PositionState], more: Bool) {
        var page: [PositionState] = []
        for id in order[(after.map(firstIndex(after:)) ?? 0)...] {
            guard let position = positions[id] else { continue }
            if !includeClosed && position.status != .open { continue }
            if page.count == limit { return (page, true) }
            page.append(position)
        }
        return (page, false)
    }
}

/// A client's open positions by ticker, read from a snapshot of its book: lookups without
/// building a dictionary of every position (a rebalancing plan over 500 positions built it
/// twice per call).
struct OpenPositions: Sendable {
    fileprivate let byTicker: [String: String]
    fileprivate let positions: [String: PositionState]

    subscript(ticker: String) -> PositionState? { byTicker[ticker].flatMap { positions[$0] } }

    var tickers: Dictionary<String, String>.Keys { byTicker.keys }

    var values: [PositionState] { byTicker.values.compactMap { positions[$0] } }

    var dictionary: [String: PositionState] {
        var open: [String: PositionState] = [:]
        open.reserveCapacity(byTicker.count)
        for (ticker, id) in byTicker { if let position = positions[id] { open[ticker] = position } }
        return open
    }
}
