-- One writer of stock: products.stock changes only in the stock_ledger_apply trigger below, from
-- the ledger row that records the change, so stock = SUM(delta) holds by construction. Every
-- change (create, PUT, restock, order, cancel) appends ledger rows; an order line's trigger
-- appends its ledger row, inside the order's one multi-row INSERT, so the order path keeps its
-- three round trips under the row locks.
-- The two triggers change together under table locks: no order can run between them and take
-- stock twice or not at all.
LOCK TABLES order_items WRITE, stock_ledger WRITE, products WRITE;

DELIMITER //
CREATE OR REPLACE TRIGGER order_items_take_stock AFTER INSERT ON order_items FOR EACH ROW
BEGIN
  INSERT INTO stock_ledger (product_id, delta, reason, order_id, created_at)
    VALUES (NEW.product_id, -CAST(NEW.quantity AS SIGNED), 'order', NEW.order_id, UTC_TIMESTAMP());
END //

CREATE OR REPLACE TRIGGER stock_ledger_apply AFTER INSERT ON stock_ledger FOR EACH ROW
BEGIN
  UPDATE products SET stock = stock + NEW.delta, updated_at = NEW.created_at WHERE id = NEW.product_id;
END //
DELIMITER ;

UNLOCK TABLES;
