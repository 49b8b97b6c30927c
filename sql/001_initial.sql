-- Users, sessions, login throttling, products and the stock ledger.
-- InnoDB, utf8mb4. Times are UTC DATETIME (the application sets time_zone = '+00:00').

-- Usernames are [A-Za-z0-9_.-], so ASCII; the case-insensitive collation makes the unique key
-- treat 'Alice' and 'alice' as one name: the database decides, not a pre-check.
CREATE TABLE IF NOT EXISTS users (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  username VARCHAR(32) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL,
  password_hash VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  role ENUM('customer', 'admin') NOT NULL DEFAULT 'customer',
  created_at DATETIME NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY users_username_unique (username)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Only the SHA-256 of a token is stored; the token itself is shown to the client once.
CREATE TABLE IF NOT EXISTS sessions (
  token_hash BINARY(32) NOT NULL,
  user_id BIGINT UNSIGNED NOT NULL,
  created_at DATETIME NOT NULL,
  expires_at DATETIME NOT NULL,
  PRIMARY KEY (token_hash),
  KEY sessions_user_expiry (user_id, expires_at),
  CONSTRAINT sessions_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Failed logins per username (existing or not, so throttling reveals nothing about accounts).
CREATE TABLE IF NOT EXISTS login_failures (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  username VARCHAR(32) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL,
  failed_at DATETIME NOT NULL,
  PRIMARY KEY (id),
  KEY login_failures_username_time (username, failed_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Stock is UNSIGNED and CHECKed: MariaDB enforces both in strict mode, so no write can take it
-- below zero. Deleted products keep their row (deleted_at) for the orders that name them.
CREATE TABLE IF NOT EXISTS products (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  name VARCHAR(255) NOT NULL,
  price DECIMAL(12,2) NOT NULL,
  stock INT UNSIGNED NOT NULL,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL,
  deleted_at DATETIME NULL,
  PRIMARY KEY (id),
  KEY products_live (deleted_at, id),
  CONSTRAINT products_price_range CHECK (price >= 0 AND price <= 99999999.99),
  CONSTRAINT products_stock_range CHECK (stock >= 0 AND stock <= 1000000000)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every stock change, written in the transaction that makes it: stock = SUM(delta) per product.
CREATE TABLE IF NOT EXISTS stock_ledger (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  product_id BIGINT UNSIGNED NOT NULL,
  delta BIGINT NOT NULL,
  reason ENUM('created', 'admin_set', 'restock', 'order', 'cancel') NOT NULL,
  order_id BIGINT UNSIGNED NULL,
  created_at DATETIME NOT NULL,
  PRIMARY KEY (id),
  KEY stock_ledger_product (product_id),
  KEY stock_ledger_order (order_id),
  CONSTRAINT stock_ledger_product_fk FOREIGN KEY (product_id) REFERENCES products (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
