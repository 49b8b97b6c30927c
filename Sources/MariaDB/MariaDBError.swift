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
        public static let tooManyPreparedStatements = Code(1461)
        public static let needsReprepare = Code(1615)
        public static let unknownSystemVariable = Code(1193)
        /// ER_UNKNOWN_COM_ERROR as Galera uses it: "WSREP has not yet prepared node for application use".
        public static let wsrepNotReady = Code(1047)
        /// A syntax error and an unknown table: on a Galera node also what a transaction aborted by
        /// a replicated write reports while the node opens its tables after a rejoin.
        public static let syntaxError = Code(1064)
        public static let unknownTable = Code(1146)
        public static let queryInterrupted = Code(1317)
        public static let statementTimeout = Code(1969)
        /// CR_NEW_STMT_METADATA: the statement's result changed shape since it was prepared.
        public static let resultShapeChanged = Code(2057)
        public static let serverGone = Code(2006)
        public static let serverLost = Code(2013)
        public static let connectionFailed = Code(2002)
        public static let hostConnectionFailed = Code(2003)
        public static let serverLostExtended = Code(2055)
        public static let commandsOutOfSync = Code(2014)
        /// CR_UNKNOWN_ERROR: a call failed and neither the statement nor the connection named a code.
        public static let unknownClientError = Code(2000)
        /// Raised by this wrapper, not the server: the connection is already known to be broken.
        public static let notConnected = Code(2006)
    }

    /// What an error means for the caller; every code falls in exactly one class.
    public enum Kind: Sendable, Equatable {
        /// Deadlock or lock wait timeout (on Galera also a certification failure at COMMIT, which
        /// reports 1213): InnoDB rolled the transaction back; run it again. Also a cached
        /// statement whose result changed shape under a migration (2057): prepared again on retry.
        case conflict
        /// The server or this connection cannot serve now (lost, killed, shutting down, a Galera
        /// node not in the primary component, no connection slots): replace the connection.
        case unavailable
        /// The server-wide `max_prepared_stmt_count` is reached.
        case statementLimit
        /// The statement was stopped by the server or an operator (KILL QUERY, max_statement_time);
        /// the connection stays usable. Not retried: whoever stopped it meant it.
        case interrupted
        /// A unique key refused the row; the caller decides what that means.
        case duplicateKey
        /// Anything else: a bug or a constraint the caller did not expect.
        case other
    }

    public let code: Code
    public let sqlState: String
    public let serverMessage: String

    public init(code: Code, sqlState: String = "HY000", serverMessage: String) {
        self.code = code
        self.sqlState = sqlState
        self.serverMessage = serverMessage
    }

    /// Server codes that mean "this connection or server cannot serve now".
    /// 1040/1203: no connection slots; 1045: access denied (credentials changed under us);
    /// 1047: WSREP has not yet prepared node for application use (Galera, non-primary);
    /// 1053: server shutdown in progress; 1290: read-only server; 1927: connection killed;
    /// 4031: disconnected for inactivity.
    private static let unavailableServerCodes: Set<UInt32> = [1040, 1203, 1045, 1047, 1053, 1290, 1927, 4031]
    /// Client codes that mean the connection is gone (not the client-side usage errors 20xx).
    private static let unavailableClientCodes: Set<UInt32> = [2000, 2002, 2003, 2006, 2013, 2014, 2026, 2055]

    public var kind: Kind {
        switch code {
        case .deadlock, .lockWaitTimeout, .resultShapeChanged: return .conflict
        case .tooManyPreparedStatements: return .statementLimit
        case .queryInterrupted, .statementTimeout: return .interrupted
        case .duplicateKey: return .duplicateKey
        default:
            if Self.unavailableServerCodes.contains(code.rawValue) || Self.unavailableClientCodes.contains(code.rawValue) {
                return .unavailable
            }
            return .other
        }
    }

    /// The connection can no longer be used; it must be replaced (between transactions only).
    public var isConnectionLost: Bool { kind == .unavailable }

    /// Whether the connection's protocol state is unknown after this error: every client-side
    /// (2xxx) error too, so that a connection is never reused after one.
    public var breaksConnection: Bool {
        kind == .unavailable || (2000..<3000).contains(code.rawValue) && code != .resultShapeChanged
    }

    /// Deadlock or lock wait timeout: InnoDB rolled back (part of) the transaction; retry it whole.
    public var isRetryableConflict: Bool { kind == .conflict }

    public var description: String { "MariaDB error \(code.rawValue) [\(sqlState)]" }
}
