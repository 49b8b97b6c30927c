// swift-tools-version:6.0
import PackageDescription

// Unsafe C lives only in the wrapper modules: FastCGI (libfcgi), MariaDB (Connector/C)
// and PasswordHashing (libargon2). Nothing else imports a C module.
let package = Package(
    name: "stockroom",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "stockroom-fcgi", targets: ["stockroom-fcgi"]),
        .executable(name: "stockroomctl", targets: ["stockroomctl"]),
        .executable(name: "stockroom-worker", targets: ["stockroom-worker"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
    ],
    targets: [
        // The FastCGI module's socket and signal helpers (the protocol itself is Swift: FastCGIConnection).
        .systemLibrary(name: "CFastCGI"),
        .systemLibrary(name: "CMariaDB", pkgConfig: "libmariadb", providers: [.apt(["libmariadb-dev"])]),
        .systemLibrary(name: "CArgon2", pkgConfig: "libargon2", providers: [.apt(["libargon2-dev"])]),
        // A value behind a pthread mutex, for the contended locks (FastCGI's pool, the log output).
        .target(name: "PthreadLock"),
        .target(name: "FastCGI", dependencies: [
            "CFastCGI", "PthreadLock",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "MariaDB", dependencies: [
            "CMariaDB",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "PasswordHashing", dependencies: ["CArgon2"]),
        // Process plumbing shared by the daemons: the environment file, signals, systemd notify,
        // the metrics exposition (process metrics, build version, the worker's loopback listener).
        .target(name: "StockroomRuntime", dependencies: [
            "MariaDB", "PthreadLock",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ], plugins: ["BuildVersion"]),
        // Stamps `git describe` of the checkout into StockroomRuntime (StockroomVersion.current).
        .plugin(name: "BuildVersion", capability: .buildTool()),
        // The domain and its persistence: products, accounts, orders, the stock ledger, the stores
        // and their typed statements. No HTTP.
        .target(name: "StockroomCore", dependencies: [
            "MariaDB", "PasswordHashing",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // Router, request context, one handler file per resource, JSON, errors to HTTP, metrics.
        // Calls the Core stores; holds no SQL.
        .target(name: "StockroomHTTP", dependencies: [
            "StockroomCore", "StockroomRuntime", "MariaDB",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        .executableTarget(name: "stockroom-fcgi", dependencies: [
            "StockroomHTTP", "StockroomCore", "StockroomRuntime", "FastCGI", "MariaDB",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        .executableTarget(name: "stockroom-worker", dependencies: [
            "StockroomCore", "StockroomRuntime", "MariaDB",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        .executableTarget(name: "stockroomctl", dependencies: [
            "StockroomCore", "PasswordHashing", "StockroomRuntime", "MariaDB",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "StockroomRuntimeTests", dependencies: ["StockroomRuntime"]),
        .testTarget(name: "StockroomTests", dependencies: [
            "StockroomCore", "StockroomHTTP", "StockroomRuntime", "FastCGI", "MariaDB", "PasswordHashing",
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        // Against a private MariaDB named by STOCKROOM_TEST_DB_SOCKET (scripts/wrapper-test.sh).
        .testTarget(name: "MariaDBTests", dependencies: [
            "MariaDB",
            .product(name: "Logging", package: "swift-log"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
