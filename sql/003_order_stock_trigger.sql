-- Fewer round trips while an order holds its product rows locked: writing an order line also takes
-- its stock and appends the ledger row, inside the same statement (and so the same transaction).
-- The order transaction then holds the locks for: SELECT ... FOR UPDATE, one multi-row INSERT into
-- order_items, COMMIT. The stock check itself stays in the application, between the SELECT and the
-- INSERT; UNSIGNED and the CHECK constraint still refuse a negative stock.
DELIMITER //
CREATE TRIGGER IF NOT EXISTS order_items_take_stock AFTER INSERT ON order_items FOR EACH ROW
BEGIN
  UPDATE products SET stock = stock - NEW.quantity, updated_at = UTC_TIMESTAMP() WHERE id = NEW.product_id;
  INSERT INTO stock_ledger (product_id, delta, reason, order_id, created_at)
    VALUES (NEW.product_id, -CAST(NEW.quantity AS SIGNED), 'order', NEW.order_id, UTC_TIMESTAMP());
END //
DELIMITER ;
