import Domain
import Foundation
import HoldingsProto

/// The SQL of `wash_sale_losses` (migration 0005): loss parts of sales with shares not yet
/// matched, kept by the projector from the events (WashSales.ledgerChanges), read by the
/// write model at start and by GetRealizedGains.
extension ReadModels {
    public static func recordWashSales(of event: Ultracore_Holdings_V1_Event, ticker: String, on connection: PostgresConnection) throws {
        let (added, matched) = WashSales.ledgerChanges(of: event)
        for loss in added {
            try connection.execute("""
                INSERT INTO wash_sale_losses (sale_event_id, part_index, client_id, ticker, position_id, lot_id, sold_at,
                                              holding_start, quantity, loss, unmatched)
                VALUES ($1::uuid, $2, $3, $4, $5, $6, 'epoch'::timestamptz + $7::int8 * interval '1 microsecond',
                        'epoch'::timestamptz + $8::int8 * interval '1 microsecond', $9::numeric, $10::numeric, $11::numeric)
                ON CONFLICT DO NOTHING
                """, [.text(loss.saleEventId), .text(String(loss.partIndex)), .text(event.clientId), .text(ticker),
                      .text(loss.positionId), .text(loss.lotId), .text(String(loss.soldAt.microseconds)),
                      .text(String(loss.holdingStart.microseconds)), .text(loss.quantity.description), .text(loss.loss.description),
                      .text(loss.unmatched.description)])
        }
        for match in matched {
            try connection.execute("""
                UPDATE wash_sale_losses SET unmatched = unmatched - $3::numeric, disallowed = disallowed + $4::numeric
                WHERE sale_event_id = $1::uuid AND part_index = $2
                """, [.text(match.saleEventId), .text(String(match.soldPartIndex)), .text(match.quantity), .text(match.disallowedLoss)])
        }
    }

    /// Unmatched losses by client and ticker (of one client when given).
    public static func loadWashLosses(client: String? = nil, on connection: PostgresConnection) throws -> [String: [String: [WashLoss]]] {
        let rows = try connection.execute("""
            SELECT sale_event_id::text, part_index, client_id, ticker, position_id, lot_id,
                   (extract(epoch from sold_at) * 1000000)::int8, (extract(epoch from holding_start) * 1000000)::int8,
                   quantity::text, loss::text, unmatched::text
            FROM wash_sale_losses WHERE unmatched > 0 AND ($1 = '' OR client_id = $1)
            ORDER BY sold_at, sale_event_id, part_index
            """, [.text(client ?? "")])
        var ledger: [String: [String: [WashLoss]]] = [:]
        for row in rows.rows {
            guard let event = row[0], let part = row[1].flatMap({ Int($0) }), let owner = row[2], let ticker = row[3],
                  let position = row[4], let lot = row[5], let sold = row[6].flatMap({ Int64($0) }),
                  let start = row[7].flatMap({ Int64($0) }), let quantity = row[8].flatMap({ ExactDecimal($0) }),
                  let loss = row[9].flatMap({ ExactDecimal($0) }), let unmatched = row[10].flatMap({ ExactDecimal($0) }) else {
                throw PostgresError(kind: .statement, sqlState: "", message: "wash_sale_losses row \(row[0] ?? "?") is malformed")
            }
            ledger[owner, default: [:]][ticker, default: []].append(WashLoss(
                saleEventId: event, partIndex: part, positionId: position, lotId: lot, soldAt: Instant(microseconds: sold),
                holdingStart: Instant(microseconds: start), quantity: quantity, loss: loss, unmatched: unmatched))
        }
        return ledger
    }

    /// Losses later buys disallowed, by "sale event id/part index", for a client's sales.
    public static func laterDisallowed(client: String, on connection: PostgresConnection) throws -> [String: ExactDecimal] {
        let rows = try connection.execute("""
            SELECT sale_event_id::text, part_index, disallowed::text FROM wash_sale_losses WHERE client_id = $1 AND disallowed > 0
            """, [.text(client)])
        var result: [String: ExactDecimal] = [:]
        for row in rows.rows {
            guard let event = row[0], let part = row[1], let amount = row[2].flatMap({ ExactDecimal($0) }) else { continue }
            result["\(event)/\(part)"] = amount
        }
        return result
    }
}
