import Glibc

/// Whether stderr is journald's stream. systemd sets `JOURNAL_STREAM` to the device and inode
/// numbers (`dev:ino`, decimal) of the stream it connects stdout/stderr to; a program compares them
/// with fstat of its own descriptor (sd_journal_stream_fd(3), systemd.exec(5)), since the variable
/// is inherited by children whose stderr goes elsewhere (a shell redirecting it to a file).
public enum JournalStream {
    public static let variable = "JOURNAL_STREAM"

    public static func isConnected(fileDescriptor: Int32 = STDERR_FILENO, value: String?) -> Bool {
        guard let value, let (device, inode) = parse(value) else { return false }
        var status = stat()
        guard fstat(fileDescriptor, &status) == 0 else { return false }
        return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode
    }

    static func parse(_ value: String) -> (device: UInt64, inode: UInt64)? {
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return nil }
        return (device, inode)
    }
}
