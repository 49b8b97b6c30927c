"""Fault 3: SIGSTOP the process holding a row lock.

An order for product P sent straight to fcgi-1 (test hook delay) takes P's row lock; fcgi-1 is then
stopped with SIGSTOP for STOP_SECONDS. Meanwhile 4 load threads buy P and 12 buy other products:
- buyers of P that reach the running responder (fcgi-2) get 503 `busy` (JSON, Retry-After) after
  the lock wait timeout and its retries (4 attempts x STOCKROOM_LOCK_WAIT_TIMEOUT = 1 s), well
  before nginx's 30 s read timeout;
- buyers of other products are not held up by the lock: a probe starts a fresh order for another
  product every 100 ms during the stop; those nginx sends to the running fcgi-2 get 201 at their
  usual speed;
- requests nginx hands to the stopped process wait for it (a stopped process still accepts
  connections into its socket's backlog, and round robin keeps sending it its share) and are
  answered after SIGCONT, within nginx's timeout. So a synchronous client soon has its request
  parked on the stopped process: that is the stop, not the lock (in production the systemd
  watchdog ends a stopped or wedged process);
- nothing gets a 500/502/504 or no answer.
After SIGCONT the held order completes (201, its sleep is over), P sells again, the checks pass.

The stop freezes every transaction in flight in the process, not only the delayed one: under
live load fcgi-1 often also holds the row of some other product at that instant, whose buyers
then get busy as well (seen in repeated runs before the load was paused around the stop). The case
pauses the load from the delayed order to the stop so that the only frozen lock is P's; in
production MariaDB's idle_write_transaction_timeout ends such frozen transactions and the
systemd watchdog ends a stopped process.
"""

import random
import threading
import time

from stockroom_kit.chaos import (
    LOAD_STOCKS,
    LOAD_THREADS,
    LOCK_WAIT_TIMEOUT,
    DelayedOrder,
    OrderLoad,
    allow,
    assert_answers,
    verify_books,
)
from stockroom_kit.stack import (
    NGINX_READ_TIMEOUT,
    max_order_id,
    responder_pid,
    sigcont,
    sigstop,
    upstreams_by_request_id,
)

STOP_SECONDS = 8
P_BUYERS = 4  # load threads 0..3 buy P, the other 12 buy the other products
P_STOCK = 2000


def test_sigstop_the_lock_holder(admin_api, customer_tokens, new_customer_token, make_products, case_report):
    initial = make_products(*LOAD_STOCKS)
    (p,) = make_products(P_STOCK)
    others = list(initial)
    holder_token = new_customer_token()
    baseline = max_order_id()
    pid = responder_pid(1)

    load = OrderLoad(customer_tokens, others + [p],
                     products_for=lambda i: [p] if i < P_BUYERS else others).start()
    holder = DelayedOrder(1, holder_token, p, delay_ms=3000)
    probes: list[threading.Thread] = []
    t_stop = t_cont = None
    try:
        time.sleep(2)
        # The delayed order must be the only transaction of fcgi-1 when it stops: SIGSTOP freezes
        # every transaction in flight in the process, and one that happened to hold the row of
        # another product would make that product's buyers wait (and get busy) too. So the load
        # is paused (nothing in flight) from just before the delayed order until the stop.
        load.pause()
        holder.start()
        holder.wait_holding(5)
        t_stop = time.monotonic()
        sigstop(pid)
        load.resume()
        # Fresh orders, each in its own thread and connection: one for another product every 100 ms,
        # and in the first 3 s one for P every 500 ms (so that some reach fcgi-2 whatever the load
        # threads are doing, and are refused there before SIGCONT).
        rnd = random.Random(3)
        while time.monotonic() < t_stop + STOP_SECONDS:
            n = len(probes)
            on_p = n % 5 == 0 and time.monotonic() < t_stop + 3
            t = threading.Thread(target=load.place_once, args=(p if on_p else rnd.choice(others),),
                                 kwargs={"thread": 100 + n, "token": customer_tokens[n % len(customer_tokens)]},
                                 daemon=True, name=f"probe-{n}")
            t.start()
            probes.append(t)
            time.sleep(0.1)
    finally:
        t_cont = time.monotonic()
        sigcont(pid)
    try:
        holder.join(10)
        time.sleep(3)
    finally:
        hung = load.stop()
        for t in probes:
            t.join(max(0.0, t_cont + 35 - time.monotonic()))
        hung += [t.name for t in probes if t.is_alive()]

    assert not hung, f"load threads still waiting after every timeout: {hung}"
    case_report.add("answers", load.counts())
    case_report.add("stop", f"fcgi-1 pid {pid} stopped {t_cont - t_stop:.2f} s while holding the row lock of product {p}")

    # The held order completes after SIGCONT: its sleep ran out while the process was stopped.
    assert holder.error is None, f"the held order failed: {holder.error!r}"
    assert holder.response is not None and holder.response.status == 201, (
        f"the held order: {holder.response and (holder.response.status, holder.response.body[:300])}"
    )
    held_order = holder.response.json()
    assert holder.ended_at - t_cont < 3, f"the held order answered {holder.ended_at - t_cont:.2f} s after SIGCONT"
    case_report.add("held order", f"201 (order {held_order['id']}) {holder.ended_at - t_cont:.2f} s after SIGCONT")

    # Nothing but 201, sold out, and 503 busy for the buyers of P (and for their cancels of earlier
    # orders of P, which give stock back under the same row lock); never 500/502/504 or a hang.
    assert_answers(load, allow(("order", 503, "busy"), ("cancel", 503, "busy")))
    cancels_busy = [a for a in load.select("cancel") if a.status == 503]
    assert all(a.thread < P_BUYERS for a in cancels_busy), f"a cancel of an order of another product was busy: {cancels_busy}"
    upstream = upstreams_by_request_id()
    p_orders = load.select("order", products=[p])
    busy = [a for a in p_orders if a.status == 503]
    assert busy, f"no buyer of {p} got 503 busy while its lock holder was stopped: {load.counts(p_orders)}"
    for a in busy:
        assert a.retry_after and a.retry_after.isdigit(), f"503 busy without Retry-After: {a}"
        # 4 attempts, each waiting the whole lock wait timeout (plus 10-40 ms backoffs).
        assert 3 * LOCK_WAIT_TIMEOUT <= a.latency < NGINX_READ_TIMEOUT, f"503 busy after {a.latency:.2f} s: {a}"
        assert t_stop - 1 <= a.start <= t_cont, f"503 busy outside the stop: {a}"
    busy_lat = sorted(a.latency for a in busy)
    # The probes for P: refused with busy on fcgi-2, served after SIGCONT on the stopped fcgi-1.
    p_probes = [a for a in p_orders if a.thread >= 100]
    p_on = {n: [a for a in p_probes if upstream.get(a.request_id, ("?",))[0] == n] for n in ("fcgi-1", "fcgi-2")}
    assert p_on["fcgi-2"], f"no probe for P reached fcgi-2: {p_probes}"
    assert all(a.status == 503 for a in p_on["fcgi-2"]), f"probes for P on fcgi-2: {load.counts(p_on['fcgi-2'])}"
    assert all(a.status == 201 and a.end >= t_cont - 0.05 for a in p_on["fcgi-1"]), (
        f"probes for P on the stopped fcgi-1: {p_on['fcgi-1']}")
    case_report.add("buyers of P", f"{len(busy)} x 503 busy (Retry-After {busy[0].retry_after}) after "
                                   f"{busy_lat[0]:.2f}..{busy_lat[-1]:.2f} s; all answers for P: "
                                   f"{load.counts(p_orders)}; probes for P: {len(p_on['fcgi-2'])} sent to fcgi-2 "
                                   f"all 503 busy, {len(p_on['fcgi-1'])} sent to the stopped fcgi-1 all 201 after SIGCONT")

    # Buyers of other products during the stop (the probes): those nginx sent to fcgi-2 go on at their
    # usual speed; those it sent to the stopped fcgi-1 are answered once it continues.
    during = [a for a in load.select("order", products=others) if a.thread >= 100]
    assert len(during) + len(p_probes) == len(probes), f"{len(probes)} probes, {len(during) + len(p_probes)} recorded"
    where = {id(a): upstream.get(a.request_id, ("?", 0))[0] for a in during}
    unmapped = [a for a in during if where[id(a)] not in ("fcgi-1", "fcgi-2")]
    assert not unmapped, f"probes not found in nginx's access log: {unmapped[:3]}"
    on_2 = [a for a in during if where[id(a)] == "fcgi-2"]
    on_1 = [a for a in during if where[id(a)] == "fcgi-1"]
    assert len(on_2) >= len(during) // 4, f"nginx sent only {len(on_2)} of {len(during)} probes to fcgi-2"
    bad_2 = [a for a in on_2 if a.status not in (201, 409)]
    assert not bad_2, f"orders for other products on fcgi-2 during the stop: {load.counts(on_2)}"
    lat_2 = sorted(a.latency for a in on_2)
    assert lat_2[-1] < 2, f"an order for another product took {lat_2[-1]:.2f} s on the running responder"
    for a in on_1:
        assert a.end >= t_cont - 0.05 and a.status in (201, 409), f"on the stopped process: {a}"
    stalled = {a.thread for a in load.select("order", products=others, started=(t_stop, t_cont))
               if a.thread < 100 and upstream.get(a.request_id, ("?",))[0] == "fcgi-1"}
    case_report.add("other products during the stop", (
        f"{len(during)} probe orders: {len(on_2)} sent to fcgi-2, all {load.counts(on_2)}, latency "
        f"median {lat_2[len(lat_2) // 2]:.3f} s, max {lat_2[-1]:.3f} s; {len(on_1)} sent to the stopped fcgi-1, "
        f"answered {load.counts(on_1)} after SIGCONT (max latency {max((a.latency for a in on_1), default=0):.2f} s); "
        f"{len(stalled)} of {LOAD_THREADS - P_BUYERS} synchronous load threads on other products had a request "
        f"parked on the stopped process"))

    # All is well after SIGCONT: every order for P started a second after it is served.
    after = load.select("order", products=[p], started=(t_cont + 1, float("inf")))
    assert after and all(a.status == 201 for a in after), f"buyers of P after SIGCONT: {load.counts(after)}"
    first_ok = min((a.end for a in p_orders if a.status == 201 and a.end > t_cont), default=None)
    case_report.add("after SIGCONT", f"first 201 for P {first_ok - t_cont:.2f} s after SIGCONT; "
                                     f"{len(after)} later orders for P all 201; max latency overall "
                                     f"{load.max_latency():.2f} s")

    all_products = dict(initial)
    all_products[p] = P_STOCK
    books = verify_books(admin_api, all_products, load, baseline, extra_acked={holder.key: held_order["id"]})
    case_report.add("checks", {k: v for k, v in books.items() if not k.startswith("_")})
