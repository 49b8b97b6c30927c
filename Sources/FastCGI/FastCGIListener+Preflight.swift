import CFastCGI
import Glibc

extension FastCGIListener {
    /// What `init(path:group:)` would meet, found without binding anything: for `--check-config`.
    public struct Preflight: Sendable {
        /// Each would stop the start (or, for a file in the socket's place, delete that file).
        public var problems: [String] = []
        /// Worth knowing, not a failure: a responder already listens there, or a stale socket.
        public var notes: [String] = []
        /// What was found, for the report line.
        public var summary = ""
    }

    public static func preflight(path: String, group: String?) -> Preflight {
        var result = Preflight()
        guard !path.isEmpty else {
            result.problems.append("no socket path")
            return result
        }
        let limit = MemoryLayout.size(ofValue: sockaddr_un().sun_path)
        if path.utf8.count >= limit {
            result.problems.append("\(path) is \(path.utf8.count) bytes, a unix socket path must be under \(limit)")
        }
        let directory = parentDirectory(of: path)
        var status = stat()
        if stat(directory, &status) != 0 {
            result.problems.append("directory \(directory): \(String(cString: strerror(errno)))")
        } else if status.st_mode & S_IFMT != S_IFDIR {
            result.problems.append("\(directory) is not a directory")
        } else if access(directory, W_OK | X_OK) != 0 {
            result.problems.append("directory \(directory) is not writable by this user (uid \(geteuid())): \(String(cString: strerror(errno)))")
        }
        if lstat(path, &status) == 0 {
            if status.st_mode & S_IFMT != S_IFSOCK {
                result.problems.append("\(path) exists and is not a socket (a start would delete it)")
            } else if someoneListens(at: path) {
                result.notes.append("a process listens on \(path) now; a start would take the name over from it")
            } else {
                result.notes.append("\(path) is a stale socket (nobody listens); a start replaces it")
            }
        }
        var groupText = "the process's group"
        if let group {
            groupText = "group \(group)"
            if let problem = groupProblem(group) { result.problems.append(problem) }
        }
        result.summary = "directory \(directory) writable, mode 0660, \(groupText)"
        return result
    }

    static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// A socket can only be given to a group the process is in (or by root).
    private static func groupProblem(_ group: String) -> String? {
        var gid: gid_t = 0
        guard stockroom_group_id(group, &gid) == 0 else { return "group \(group) does not exist" }
        if geteuid() == 0 || getegid() == gid { return nil }
        let count = getgroups(0, nil)
        var groups = [gid_t](repeating: 0, count: Int(max(count, 0)))
        if count > 0, getgroups(count, &groups) >= 0, groups.contains(gid) { return nil }
        return "this process (uid \(geteuid())) is not in group \(group), so it cannot give the socket to it (SupplementaryGroups= in the unit)"
    }

    private static func someoneListens(at path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
            }
        }
    }
}
