-- One row per username that has tried to sign in. A login takes this row's lock (INSERT ... ON
-- DUPLICATE KEY UPDATE) before it counts the failures in the window and claims an attempt in
-- login_failures, so concurrent guesses are counted one after another: at most 10 passwords are
-- ever checked per account and window, however many arrive at once.
CREATE TABLE IF NOT EXISTS login_throttles (
  username VARCHAR(32) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL,
  last_attempt_at DATETIME NOT NULL,
  PRIMARY KEY (username),
  KEY login_throttles_last_attempt (last_attempt_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
