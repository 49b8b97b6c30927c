import Foundation
import Testing
@testable import FastCGI

/// `stockroom-fcgi --check-config`'s socket part: what binding would meet, found without binding.
@Suite struct FastCGIListenerPreflightTests {
    static func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("stockroom-preflight-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        return path
    }

    @Test func aWritableDirectoryAndNoSocketYetPass() throws {
        let directory = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = FastCGIListener.preflight(path: directory + "/fcgi-1.sock", group: nil)
        #expect(result.problems.isEmpty)
        #expect(result.notes.isEmpty)
        #expect(result.summary.contains("directory \(directory) writable"))
    }

    @Test func aMissingDirectoryIsAProblem() {
        let result = FastCGIListener.preflight(path: "/nonexistent-stockroom/fcgi.sock", group: nil)
        #expect(result.problems == ["directory /nonexistent-stockroom: No such file or directory"])
    }

    @Test func aFileInTheSocketsPlaceIsAProblem() throws {
        let directory = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/fcgi.sock"
        try Data("not a socket".utf8).write(to: URL(fileURLWithPath: path))
        let result = FastCGIListener.preflight(path: path, group: nil)
        #expect(result.problems == ["\(path) exists and is not a socket (a start would delete it)"])
        let inside = FastCGIListener.preflight(path: path + "/x.sock", group: nil)
        #expect(inside.problems == ["\(path) is not a directory"])
    }

    @Test func aPathTooLongForSockaddrIsAProblem() {
        let path = "/tmp/" + String(repeating: "a", count: 120) + ".sock"
        let result = FastCGIListener.preflight(path: path, group: nil)
        #expect(result.problems.contains { $0.contains("a unix socket path must be under 108") })
    }

    @Test func anUnknownGroupIsAProblemAndTheProcesssOwnGroupIsNot() throws {
        let directory = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let unknown = FastCGIListener.preflight(path: directory + "/a.sock", group: "no-such-group-stockroom")
        #expect(unknown.problems == ["group no-such-group-stockroom does not exist"])
        let own = try #require(getgrgid(getegid())).pointee.gr_name.map { String(cString: $0) }
        let mine = FastCGIListener.preflight(path: directory + "/a.sock", group: own)
        #expect(mine.problems.isEmpty)
        #expect(mine.summary.hasSuffix("group \(own ?? "")"))
    }

    @Test func parentDirectories() {
        #expect(FastCGIListener.parentDirectory(of: "/run/stockroom/fcgi-1.sock") == "/run/stockroom")
        #expect(FastCGIListener.parentDirectory(of: "/fcgi.sock") == "/")
        #expect(FastCGIListener.parentDirectory(of: "fcgi.sock") == ".")
    }
}
