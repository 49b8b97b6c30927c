/// An error from Connector/C or the server. `description` names the code only: the server's
/// message can quote bound values (e.g. the duplicate entry), so it is kept apart for debug logs.
public struct MariaDBError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable {
        public let rawValue: UInt32
        public init(_ rawValue: UInt32) { self.rawValue = rawValue }

        public static let duplicateKey = Code(1062)
        public static let lockWaitTimeout = Code(1205)
        public static let deadlock = Code(1213)
        public static let checkConstraintViolated = Code(4025)
        public static let outOfRange = Code(1264)
        public static let serverGone = Code(2006)
        public static let serverLost = Code(2013)
        public static let connectionFailed = Code(2002)
        public static let hostConnectionFailed = Code(2003)
        public static let serverLostExtended = Code(2055)
        public static let commandsOutOfSync = Code(2014)
        /// Raised by this wrapper, not the server: the connection is already known to be broken.
        public static let notConnected = Code(2006)
    }

    public let code: Code
    public let sqlState: String
    public let serverMessage: String

    public init(code: Code, sqlState: String = "HY000", serverMessage: String) {
        self.code = code
        self.sqlState = sqlState
        self.serverMessage = serverMessage
    }

    /// The connection can no longer be used; it must be replaced (between transactions only).
    public var isConnectionLost: Bool {
        switch code {
        case .serverGone, .serverLost, .connectionFailed, .hostConnectionFailed, .serverLostExtended,
             .commandsOutOfSync:
            return true
        default:
            // 1927: connection killed (KILL CONNECTION); 4031: disconnected for inactivity.
            return code.rawValue == 1927 || code.rawValue == 4031 || code.rawValue == 2026
        }
    }

    /// Deadlock or lock wait timeout: InnoDB rolled back (part of) the transaction; retry it whole.
    public var isRetryableConflict: Bool { code == .deadlock || code == .lockWaitTimeout }

    public var description: String { "MariaDB error \(code.rawValue) [\(sqlState)]" }
}
