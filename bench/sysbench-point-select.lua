#!/usr/bin/env sysbench
-- sysbench 1.0 ceiling for GET /api/v1/products/{id}: the responder's own point select by primary
-- key (ProductResource.show), as a server-side prepared statement, on a random product among
-- --product-first..--product-last. One event = one SELECT, so events/s compares with requests/s.
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
}

local SELECT_PRODUCT =
    "SELECT id, name, price, stock, created_at, updated_at FROM products WHERE id = ? AND deleted_at IS NULL"

function thread_init()
    drv = sysbench.sql.driver()
    con = drv:connect()
    -- The responder connects with time_zone = '+00:00'; harmless here, kept for the same session state.
    con:query("SET time_zone = '+00:00'")
    stmt = con:prepare(SELECT_PRODUCT)
    param = stmt:bind_create(sysbench.sql.type.BIGINT)
    stmt:bind_param(param)
    first = sysbench.opt.product_first
    last = sysbench.opt.product_last
end

function event()
    param:set(sysbench.rand.uniform(first, last))
    stmt:execute()
end

function thread_done()
    stmt:close()
    con:disconnect()
end
