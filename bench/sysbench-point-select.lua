#!/usr/bin/env sysbench
-- sysbench 1.0 ceiling for GET /api/v1/products/{id}: the responder's own point select by primary
-- key (ProductResource.show), as a server-side prepared statement, on a random product among
-- --product-first..--product-last (every --product-step-th id: a Galera cluster hands out ids in
-- steps of its size). One event = one SELECT, so events/s compares with requests/s.
--
--   --sync-wait=N   runs SET SESSION wsrep_sync_wait = N on each connection first (the responder
--                   sets 1 on a Galera node: every read waits for causality); not given: the
--                   server's default, nothing set (make bench)
--
--   sysbench bench/sysbench-point-select.lua --db-driver=mysql --mysql-socket=SOCK \
--     --mysql-user=stockroom --mysql-password=stockroom-dev --mysql-db=stockroom \
--     --product-first=1 --product-last=1000 --threads=32 --time=5 run
--
-- Keep the SQL in step with Sources/Stockroom/Resources/ProductResource.swift (show) and
-- Product.columns.

sysbench.cmdline.options = {
    ["product-first"] = {"Lowest product id to read", 1},
    ["product-last"] = {"Highest product id to read", 1000},
    ["product-step"] = {"Step between the product ids (auto_increment_increment)", 1},
    ["sync-wait"] = {"SET SESSION wsrep_sync_wait to this on each connection (default: not set)"},
}

local SELECT_PRODUCT =
    "SELECT id, name, price, stock, created_at, updated_at FROM products WHERE id = ? AND deleted_at IS NULL"

function thread_init()
    drv = sysbench.sql.driver()
    con = drv:connect()
    -- The responder connects with time_zone = '+00:00'; harmless here, kept for the same session state.
    con:query("SET time_zone = '+00:00'")
    local sync_wait = sysbench.opt.sync_wait
    if sync_wait ~= nil and sync_wait ~= "" then
        if not tostring(sync_wait):match("^%d+$") then error("--sync-wait must be a whole number") end
        con:query("SET SESSION wsrep_sync_wait = " .. sync_wait)
    end
    stmt = con:prepare(SELECT_PRODUCT)
    param = stmt:bind_create(sysbench.sql.type.BIGINT)
    stmt:bind_param(param)
    first = sysbench.opt.product_first
    step = sysbench.opt.product_step
    if step < 1 then error("--product-step must be 1 or more") end
    count = math.floor((sysbench.opt.product_last - first) / step)
end

function event()
    param:set(first + step * sysbench.rand.uniform(0, count))
    stmt:execute()
end

function thread_done()
    stmt:close()
    con:disconnect()
end
