-- Carts, promo codes and the pricing of orders (issue 10).

-- A code's text is unique among live codes without regard to case (the column's collation is
-- case-insensitive); a deleted code keeps its row, for the orders that used it, and frees its text.
CREATE TABLE IF NOT EXISTS promo_codes (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  code VARCHAR(32) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL,
  kind ENUM('percent', 'amount') NOT NULL,
  value DECIMAL(12,2) NOT NULL,
  min_subtotal DECIMAL(12,2) NOT NULL DEFAULT 0.00,
  max_redemptions INT UNSIGNED NULL,
  max_per_user INT UNSIGNED NULL,
  starts_at DATETIME NULL,
  ends_at DATETIME NULL,
  -- Non-cancelled orders using the code; written only by the orders triggers below, under the
  -- code's row lock, which every redemption and every limit check holds.
  redemptions INT UNSIGNED NOT NULL DEFAULT 0,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL,
  deleted_at DATETIME NULL,
  live_code VARCHAR(32) CHARACTER SET ascii COLLATE ascii_general_ci AS (IF(deleted_at IS NULL, code, NULL)) PERSISTENT,
  PRIMARY KEY (id),
  UNIQUE KEY promo_codes_live_code (live_code),
  CONSTRAINT promo_codes_value CHECK (value > 0),
  CONSTRAINT promo_codes_percent CHECK (kind <> 'percent' OR value <= 100)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Per user and code: that user's non-cancelled orders with the code (written by the triggers).
CREATE TABLE IF NOT EXISTS promo_code_users (
  promo_code_id BIGINT UNSIGNED NOT NULL,
  user_id BIGINT UNSIGNED NOT NULL,
  redemptions INT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (promo_code_id, user_id),
  CONSTRAINT promo_code_users_code_fk FOREIGN KEY (promo_code_id) REFERENCES promo_codes (id),
  CONSTRAINT promo_code_users_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One cart per user; its row is the lock that serializes that user's cart writes and checkouts.
CREATE TABLE IF NOT EXISTS carts (
  user_id BIGINT UNSIGNED NOT NULL,
  promo_code_id BIGINT UNSIGNED NULL,
  updated_at DATETIME NOT NULL,
  PRIMARY KEY (user_id),
  CONSTRAINT carts_user_fk FOREIGN KEY (user_id) REFERENCES users (id),
  CONSTRAINT carts_promo_code_fk FOREIGN KEY (promo_code_id) REFERENCES promo_codes (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS cart_items (
  user_id BIGINT UNSIGNED NOT NULL,
  product_id BIGINT UNSIGNED NOT NULL,
  quantity INT UNSIGNED NOT NULL,
  PRIMARY KEY (user_id, product_id),
  KEY cart_items_product (product_id),
  CONSTRAINT cart_items_cart_fk FOREIGN KEY (user_id) REFERENCES carts (user_id),
  CONSTRAINT cart_items_product_fk FOREIGN KEY (product_id) REFERENCES products (id),
  CONSTRAINT cart_items_quantity_range CHECK (quantity BETWEEN 1 AND 1000)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The pricing every order carries, computed when it is placed. Orders from before: subtotal =
-- total = the sum of their lines, the rest 0.
ALTER TABLE orders
  ADD COLUMN IF NOT EXISTS subtotal DECIMAL(12,2) NOT NULL DEFAULT 0.00,
  ADD COLUMN IF NOT EXISTS discount DECIMAL(12,2) NOT NULL DEFAULT 0.00,
  ADD COLUMN IF NOT EXISTS delivery DECIMAL(12,2) NOT NULL DEFAULT 0.00,
  ADD COLUMN IF NOT EXISTS tax DECIMAL(12,2) NOT NULL DEFAULT 0.00,
  ADD COLUMN IF NOT EXISTS total DECIMAL(12,2) NOT NULL DEFAULT 0.00,
  ADD COLUMN IF NOT EXISTS promo_code_id BIGINT UNSIGNED NULL,
  ADD COLUMN IF NOT EXISTS promo_code VARCHAR(32) CHARACTER SET ascii COLLATE ascii_general_ci NULL,
  ADD KEY IF NOT EXISTS orders_promo_code (promo_code_id, user_id),
  ADD CONSTRAINT orders_promo_code_fk FOREIGN KEY IF NOT EXISTS (promo_code_id) REFERENCES promo_codes (id);

UPDATE orders o
  JOIN (SELECT order_id, SUM(line_total) AS lines_total FROM order_items GROUP BY order_id) i ON i.order_id = o.id
  SET o.subtotal = i.lines_total, o.total = i.lines_total
  WHERE o.total = 0;

-- One writer of redemptions, as the ledger is of stock: these triggers. An order is placed
-- without its code and then priced with it by an UPDATE once the code's row is locked (after the
-- products), so the counters change there; a cancel gives the redemption back.
DELIMITER //
CREATE OR REPLACE TRIGGER orders_redeem_promo_code AFTER UPDATE ON orders FOR EACH ROW
BEGIN
  IF NEW.promo_code_id IS NOT NULL AND OLD.promo_code_id IS NULL AND NEW.status <> 'cancelled' THEN
    UPDATE promo_codes SET redemptions = redemptions + 1 WHERE id = NEW.promo_code_id;
    INSERT INTO promo_code_users (promo_code_id, user_id, redemptions) VALUES (NEW.promo_code_id, NEW.user_id, 1)
      ON DUPLICATE KEY UPDATE redemptions = redemptions + 1;
  ELSEIF NEW.promo_code_id IS NOT NULL AND OLD.status <> 'cancelled' AND NEW.status = 'cancelled' THEN
    UPDATE promo_codes SET redemptions = redemptions - 1 WHERE id = NEW.promo_code_id;
    UPDATE promo_code_users SET redemptions = redemptions - 1
      WHERE promo_code_id = NEW.promo_code_id AND user_id = NEW.user_id;
  END IF;
END //
DELIMITER ;
