#!/usr/bin/env sysbench
-- sysbench 1.0 ceiling for POST /api/v1/orders (one line, quantity 1): the order transaction as
-- naive SQL, every statement a server-side prepared statement, one round trip each, with the row
-- lock taken first and held to COMMIT:
--
--   BEGIN
--   SELECT id, name, price, stock FROM products WHERE id IN (?) AND deleted_at IS NULL ORDER BY id FOR UPDATE
--   UPDATE products SET stock = CASE id WHEN ? THEN stock - ? END, updated_at = ? WHERE id IN (?)
--   INSERT INTO orders (user_id, status, created_at, updated_at) VALUES (?, 'pending', ?, ?)
--   INSERT INTO bench_order_items (order_id, product_id, name, quantity, unit_price, line_total) VALUES (LAST_INSERT_ID(), ?, ?, ?, ?, ?)
--     (bench_order_items: a trigger-free copy of order_items; the responder instead inserts into
--      order_items, whose trigger writes the ledger row, whose trigger takes the stock (sql/005),
--      so it holds the row lock for SELECT ... FOR UPDATE, INSERT, COMMIT only)
--   INSERT INTO bench_stock_ledger (product_id, delta, reason, order_id, created_at) VALUES (?, ?, 'order', LAST_INSERT_ID(), ?)   (--ledger=on)
--     (bench_stock_ledger: a trigger-free copy of stock_ledger, whose trigger would take the stock
--      a second time; so `stockroomctl check` on the bench database names the products sysbench
--      sold, their stock being below their ledger by what sysbench took)
--   COMMIT
--
-- These are the statements of Sources/Stockroom/Resources/OrderPlacement.swift and StockLedger.swift
-- for one line (keep them in step). The responder writes the order row before it takes the lock; the
-- naive order here holds the lock over every statement after the SELECT. LAST_INSERT_ID() stands in
-- for the insert id the responder reads from the OK packet (no extra round trip); order_items has no
-- AUTO_INCREMENT, so it is still the order's id when the ledger row is written. The stock ledger row
-- (--ledger=on, the default) is written because the responder writes one too and because
-- `stockroomctl check` expects stock = SUM(ledger); --ledger=off gives the 5-statement transaction
-- of the issue's reference figures (BEGIN, SELECT ... FOR UPDATE, UPDATE, INSERT order, INSERT line,
-- COMMIT).
--
--   --hot=off   a random product among --product-first..--product-last per order (spread)
--   --hot=on    every order on --product-first (one hot row)
--   --user-id   the users.id the orders belong to (use a dedicated user)
--
--   sysbench bench/sysbench-order.lua --db-driver=mysql --mysql-socket=SOCK --mysql-user=stockroom \
--     --mysql-password=stockroom-dev --mysql-db=stockroom --user-id=3 --product-first=1 \
--     --product-last=1000 --hot=off --threads=32 --time=5 run
--
-- A deadlock or lock wait timeout is not expected (one row per transaction); sysbench reports one
-- as an error and ignores it (--mysql-ignore-errors is not needed for that: the event fails).

sysbench.cmdline.options = {
    ["product-first"] = {"Lowest product id (the hot product with --hot=on)", 1},
    ["product-last"] = {"Highest product id", 1000},
    ["hot"] = {"Every order on --product-first instead of a random product", false},
    ["user-id"] = {"users.id of the orders (a dedicated user)", 0},
    ["ledger"] = {"Also write the stock_ledger row, as the responder does", true},
}

local SQL = {
    lock = "SELECT id, name, price, stock FROM products WHERE id IN (?) AND deleted_at IS NULL ORDER BY id FOR UPDATE",
    update = "UPDATE products SET stock = CASE id WHEN ? THEN stock - ? END, updated_at = ? WHERE id IN (?)",
    order = "INSERT INTO orders (user_id, status, created_at, updated_at) VALUES (?, 'pending', ?, ?)",
    item = "INSERT INTO bench_order_items (order_id, product_id, name, quantity, unit_price, line_total) "
        .. "VALUES (LAST_INSERT_ID(), ?, ?, ?, ?, ?)",
    ledger = "INSERT INTO bench_stock_ledger (product_id, delta, reason, order_id, created_at) "
        .. "VALUES (?, ?, 'order', LAST_INSERT_ID(), ?)",
}

local T = sysbench.sql.type

local function prepare(sql, ...)
    local s = con:prepare(sql)
    local params = {}
    for i, spec in ipairs({...}) do
        if type(spec) == "table" then params[i] = s:bind_create(spec[1], spec[2])
        else params[i] = s:bind_create(spec) end
    end
    s:bind_param(unpack(params))
    return s, params
end

function thread_init()
    first = sysbench.opt.product_first
    last = sysbench.opt.product_last
    hot = sysbench.opt.hot
    user_id = sysbench.opt.user_id
    ledger = sysbench.opt.ledger
    if user_id == 0 then error("--user-id is required (the users.id the orders belong to)") end
    drv = sysbench.sql.driver()
    con = drv:connect()
    con:query("SET time_zone = '+00:00'")
    -- The naive transaction writes its lines into a copy of order_items: CREATE TABLE ... LIKE copies
    -- the columns and keys but not the order_items_take_stock trigger (sql/003), which would take the
    -- stock a second time. Same work per statement as the real table, without the trigger.
    con:query("CREATE TABLE IF NOT EXISTS bench_order_items LIKE order_items")
    con:query("CREATE TABLE IF NOT EXISTS bench_stock_ledger LIKE stock_ledger")
    -- name and price are copied into the order line from the locked row; the responder reads them
    -- from its SELECT ... FOR UPDATE, sysbench 1.0 cannot read a prepared statement's rows, so they
    -- are loaded once here (the benchmark never changes them).
    products = {}
    local rs = con:query(string.format(
        "SELECT id, name, price FROM products WHERE id BETWEEN %d AND %d AND deleted_at IS NULL", first, last))
    for _ = 1, rs.nrows do
        local row = rs:fetch_row()
        products[tonumber(row[1])] = {name = row[2], price = row[3]}
    end
    if products[first] == nil then error(string.format("no live product %d", first)) end
    s_lock, p_lock = prepare(SQL.lock, T.BIGINT)
    s_update, p_update = prepare(SQL.update, T.BIGINT, T.INT, {T.CHAR, 19}, T.BIGINT)
    s_order, p_order = prepare(SQL.order, T.BIGINT, {T.CHAR, 19}, {T.CHAR, 19})
    s_item, p_item = prepare(SQL.item, T.BIGINT, {T.VARCHAR, 255}, T.INT, {T.CHAR, 16}, {T.CHAR, 16})
    if ledger then s_ledger, p_ledger = prepare(SQL.ledger, T.BIGINT, T.INT, {T.CHAR, 19}) end
end

local function product_id()
    if hot then return first end
    local id
    repeat id = sysbench.rand.uniform(first, last) until products[id] ~= nil
    return id
end

function event()
    local id = product_id()
    local product = products[id]
    local now = os.date("!%Y-%m-%d %H:%M:%S")
    con:query("BEGIN")
    p_lock[1]:set(id)
    s_lock:execute()
    p_update[1]:set(id); p_update[2]:set(1); p_update[3]:set(now); p_update[4]:set(id)
    s_update:execute()
    p_order[1]:set(user_id); p_order[2]:set(now); p_order[3]:set(now)
    s_order:execute()
    p_item[1]:set(id); p_item[2]:set(product.name); p_item[3]:set(1)
    p_item[4]:set(product.price); p_item[5]:set(product.price)
    s_item:execute()
    if ledger then
        p_ledger[1]:set(id); p_ledger[2]:set(-1); p_ledger[3]:set(now)
        s_ledger:execute()
    end
    con:query("COMMIT")
end

function thread_done()
    for _, s in ipairs({s_lock, s_update, s_order, s_item, s_ledger}) do s:close() end
    con:disconnect()
end
