"""A mixed, seeded workload for the data-quality figures (scripts/quality-load.sh starts the
server): buys (some booked late, as transfers in often are), sales by every method, price
batches (some quotes stale), a split, rebalancing runs, and a few records from another
producer that break a critical rule. Prints the events-weighted average score, the failed
rules with their counts and lost points, and the quarantined records by rule.

    python scripts/quality_load.py ADDRESS TOKEN BOOTSTRAP [CLIENTS] [SEED]
"""
import os
import random
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "Tests", "interop"))
import grpc  # noqa: E402
import samples  # noqa: E402

M = samples.holdings_modules()
pb, cb, rb, dm, ev, common = (M[n] for n in ("holdings_pb2", "cost_basis_pb2", "rebalancing_pb2", "data_mesh_pb2", "events_pb2",
                                              "common_pb2"))
LATE_BOOKING = 0.10      # share of buys recorded more than a day after the trade (transfers in, corrections)
STALE_QUOTES = 0.05      # share of quotes older than a day when published (a vendor's stale feed)
FOREIGN_BAD = 10         # records another producer writes that fail a critical rule


def ts(when):
    from google.protobuf import timestamp_pb2
    value = timestamp_pb2.Timestamp()
    value.FromDatetime(when)
    return value


def main():
    address, token, bootstrap = sys.argv[1:4]
    clients = int(sys.argv[4]) if len(sys.argv) > 4 else 200
    rng = random.Random(int(sys.argv[5]) if len(sys.argv) > 5 else 16)
    channel = grpc.insecure_channel(address)
    metadata = (("authorization", "Bearer " + token),)
    holdings = M["holdings_pb2_grpc"].HoldingsServiceStub(channel)
    costs = M["cost_basis_pb2_grpc"].CostBasisServiceStub(channel)
    rebalancing = M["rebalancing_pb2_grpc"].RebalancingServiceStub(channel)
    mesh = M["data_mesh_pb2_grpc"].DataMeshServiceStub(channel)
    now = datetime.now(timezone.utc)
    tickers = [f"Q{i:02d}" + uuid.uuid4().hex[:3].upper() for i in range(20)]
    prices = {t: rng.uniform(20, 300) for t in tickers}
    names = [f"ql-{uuid.uuid4().hex[:6]}-{i}" for i in range(clients)]
    for client in names:
        for _ in range(rng.randint(3, 6)):
            ticker = rng.choice(tickers)
            request = pb.OpenPositionRequest(client_id=client, ticker=ticker, quantity=str(rng.randint(1, 100)),
                                             price=f"{prices[ticker] * rng.uniform(0.97, 1.03):.2f}", fees="1")
            if rng.random() < LATE_BOOKING:
                request.trade_time.CopyFrom(ts(now - timedelta(days=rng.randint(2, 20))))
            holdings.OpenPosition(request, metadata=metadata, timeout=10)
    for round_ in range(5):
        quotes = []
        for ticker in tickers:
            prices[ticker] *= rng.uniform(0.97, 1.03)
            at = now - timedelta(days=2) if rng.random() < STALE_QUOTES else datetime.now(timezone.utc)
            quotes.append(common.PriceQuote(ticker=ticker, price=f"{prices[ticker]:.2f}", priced_at=ts(at)))
        holdings.PublishPrices(pb.PublishPricesRequest(prices=quotes), metadata=metadata, timeout=120)
    methods = [common.FIFO, common.LIFO, common.HIFO, common.AVERAGE]
    for client in names:
        positions = holdings.ListPositions(pb.ListPositionsRequest(client_id=client), metadata=metadata, timeout=10).positions
        for position in rng.sample(list(positions), min(2, len(positions))):
            quantity = max(1, int(float(position.quantity)) // 3)
            costs.SellLots(cb.SellLotsRequest(client_id=client, ticker=position.ticker, quantity=str(quantity),
                                              price=f"{prices[position.ticker]:.2f}", fees="0.5", method=rng.choice(methods),
                                              request_id=uuid.uuid4().hex), metadata=metadata, timeout=10)
    holdings.ApplyCorporateAction(pb.ApplyCorporateActionRequest(ticker=tickers[0], type=ev.SPLIT, split_to="2", split_from="1",
                                                                 request_id=uuid.uuid4().hex), metadata=metadata, timeout=120)
    for client in names[:clients // 10]:
        positions = holdings.ListPositions(pb.ListPositionsRequest(client_id=client), metadata=metadata, timeout=10).positions
        held = sorted({p.ticker for p in positions if p.status == common.POSITION_STATUS_OPEN})
        if len(held) < 2:
            continue
        targets = {t: f"{1 / len(held):.6f}" for t in held[:-1]}
        targets[held[-1]] = f"{1 - sum(float(v) for v in targets.values()):.6f}"
        plan = rebalancing.PlanRebalancing(rb.PlanRebalancingRequest(client_id=client, target_weights=targets, strategy=ev.THRESHOLD,
                                                                     band=ev.DriftBand(absolute="0.01")), metadata=metadata, timeout=10)
        if plan.trades:
            rebalancing.ExecuteRebalancing(rb.ExecuteRebalancingRequest(client_id=client, plan_id=plan.plan_id, request_id=uuid.uuid4().hex),
                                           metadata=metadata, timeout=30)
    for i in range(FOREIGN_BAD):
        aggregate = "pos-foreign-" + uuid.uuid4().hex[:8]
        lot = common.Lot(lot_id="L1", quantity="10", original_quantity="10", unit_cost="5", cost_basis="50" if i % 2 else "-50",
                         fees="0", acquired_at=ts(now))
        event = ev.Event(event_id=str(uuid.uuid4()), event_type=ev.POSITION_OPENED, aggregate_id=aggregate, aggregate_version=1,
                         client_id=rng.choice(names), source="another-producer", schema_version=1, occurred_at=ts(now),
                         position_opened=ev.PositionOpened(position_id=aggregate, client_id="", ticker="FRN", lot=lot))
        event.position_opened.client_id = event.client_id if i % 2 == 0 else "someone-else"
        event.position_opened.lot.source_event_id = event.event_id
        with tempfile.NamedTemporaryFile(suffix=".bin") as file:
            file.write(event.SerializeToString())
            file.flush()
            subprocess.run(["kcat", "-P", "-b", bootstrap, "-t", "holdings.positions", "-k", aggregate, file.name], check=True, timeout=30)

    total_events = 0
    weighted = 0.0
    failed, lost = Counter(), Counter()
    for client in names:
        quality = mesh.GetDataQuality(dm.GetDataQualityRequest(client_id=client), metadata=metadata, timeout=30)
        total_events += quality.events_examined
        weighted += quality.score_exact * quality.events_examined
        for rule in quality.rules:
            failed[rule.name] += rule.failed
            lost[rule.name] += rule.points_lost * quality.events_examined
    import time
    time.sleep(2)
    quarantined = mesh.ListQuarantinedRecords(dm.ListQuarantinedRecordsRequest(quality_only=True, limit=1000),
                                              metadata=metadata, timeout=30)
    print(f"clients {clients}, events {total_events}; assumptions: {LATE_BOOKING:.0%} of buys booked late, "
          f"{STALE_QUOTES:.0%} of quotes stale, {FOREIGN_BAD} bad records from another producer")
    print(f"average score (events-weighted): {weighted / total_events:.2f}")
    print("failed rules (events failing, points of the average lost):")
    for name, count in failed.most_common():
        if count:
            print(f"  {name:20s} {count:6d}  {lost[name] / total_events:.2f}")
    by_rule = Counter(rule for record in quarantined.records for rule in record.failed_rules)
    print(f"quarantined records: {len(quarantined.records)} ({', '.join(f'{k} {v}' for k, v in by_rule.most_common())})")


if __name__ == "__main__":
    main()
