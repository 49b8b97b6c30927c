import Foundation
import Testing
@testable import StockroomRuntime

/// The database password from a file: STOCKROOM_DB_PASSWORD_FILE, or the systemd credential
/// `db-password` in $CREDENTIALS_DIRECTORY (LoadCredential=), before STOCKROOM_DB_PASSWORD.
@Suite struct DatabasePasswordTests {
    /// A fresh folder, removed when the test ends.
    final class Folder {
        let path: String
        init() throws {
            path = FileManager.default.temporaryDirectory.appendingPathComponent("stockroom-credentials-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        }
        @discardableResult
        func write(_ name: String, _ text: String) throws -> String {
            let file = path + "/" + name
            try Data(text.utf8).write(to: URL(fileURLWithPath: file))
            return file
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    @Test(arguments: ["s3cret", "s3cret\n", "s3cret\r\n"])
    func theFinalNewlineIsDropped(_ content: String) throws {
        let folder = try Folder()
        try folder.write(DatabasePassword.credentialName, content)
        let settings = try OperatorSettings(environment: ["CREDENTIALS_DIRECTORY": folder.path])
        #expect(settings.database.password == "s3cret")
    }

    @Test func theCredentialWinsOverTheEnvironmentVariable() throws {
        let folder = try Folder()
        try folder.write(DatabasePassword.credentialName, "from-credential\n")
        let environment = ["CREDENTIALS_DIRECTORY": folder.path + "/", "STOCKROOM_DB_PASSWORD": "from-env"]
        #expect(try ResponderSettings(environment: environment).database.password == "from-credential")
        #expect(try WorkerSettings(environment: environment).database.password == "from-credential")
        #expect(DatabasePassword.source(in: environment) == .credential(path: folder.path + "/db-password"))
    }

    @Test func thePasswordFileSettingWinsOverTheCredential() throws {
        let folder = try Folder()
        try folder.write(DatabasePassword.credentialName, "from-credential\n")
        let file = try folder.write("other", "from-file\n")
        let environment = ["CREDENTIALS_DIRECTORY": folder.path, "STOCKROOM_DB_PASSWORD_FILE": file,
                           "STOCKROOM_DB_PASSWORD": "from-env"]
        #expect(try OperatorSettings(environment: environment).database.password == "from-file")
        #expect(DatabasePassword.source(in: environment) == .file(path: file))
    }

    /// Without a credential (no credentials folder, or one without db-password), the variable works as before.
    @Test func theEnvironmentVariableStillWorksWithoutACredential() throws {
        let folder = try Folder()
        try folder.write("some-other-credential", "x")
        for environment in [["STOCKROOM_DB_PASSWORD": "from-env"],
                            ["STOCKROOM_DB_PASSWORD": "from-env", "CREDENTIALS_DIRECTORY": folder.path],
                            ["STOCKROOM_DB_PASSWORD": "from-env", "CREDENTIALS_DIRECTORY": "", "STOCKROOM_DB_PASSWORD_FILE": ""]] {
            #expect(try OperatorSettings(environment: environment).database.password == "from-env")
            #expect(DatabasePassword.source(in: environment) == .environment)
        }
        #expect(try OperatorSettings(environment: [:]).database.password == "")
        #expect(DatabasePassword.source(in: [:]) == .none)
    }

    /// A start error that names the file and why, never the content.
    func problem(_ environment: [String: String]) throws -> String {
        let error = try #require(throws: SettingsError.self) { try ResponderSettings(environment: environment) }
        #expect(error.problems.count == 1)
        return error.description
    }

    @Test func aMissingPasswordFileStopsTheStartNamingIt() throws {
        let message = try problem(["STOCKROOM_DB_PASSWORD_FILE": "/nonexistent/db-password", "STOCKROOM_DB_PASSWORD": "x"])
        #expect(message.contains("STOCKROOM_DB_PASSWORD_FILE=/nonexistent/db-password"))
        #expect(message.contains("No such file or directory"))
    }

    /// Root reads any file whatever its mode, so "unreadable" here is a folder in the file's place.
    @Test func anUnreadableCredentialStopsTheStartNamingIt() throws {
        let folder = try Folder()
        try FileManager.default.createDirectory(atPath: folder.path + "/db-password", withIntermediateDirectories: false)
        let message = try problem(["CREDENTIALS_DIRECTORY": folder.path, "STOCKROOM_DB_PASSWORD": "not-a-fallback"])
        #expect(message.contains("the systemd credential db-password at \(folder.path)/db-password"))
        #expect(message.contains("Is a directory"))
    }

    @Test func anUnreadableFileByModeStopsTheStart() throws {
        guard geteuid() != 0 else { return }  // root reads it anyway
        let folder = try Folder()
        let file = try folder.write("db-password", "secret\n")
        chmod(file, 0)
        #expect(try problem(["STOCKROOM_DB_PASSWORD_FILE": file]).contains("Permission denied"))
    }

    @Test func emptyOrSeveralLinesAreRefusedWithoutShowingTheContent() throws {
        let folder = try Folder()
        let empty = try folder.write("empty", "\n")
        #expect(try problem(["STOCKROOM_DB_PASSWORD_FILE": empty]).contains("empty"))
        let twoLines = try folder.write("two", "first-secret\nsecond-secret\n")
        let message = try problem(["STOCKROOM_DB_PASSWORD_FILE": twoLines])
        #expect(message.contains("more than one line"))
        #expect(!message.contains("secret"))
        let huge = try folder.write("huge", String(repeating: "x", count: 5000))
        #expect(try problem(["STOCKROOM_DB_PASSWORD_FILE": huge]).contains("larger than"))
    }

    /// The other settings' problems are still all reported with it.
    @Test func reportedWithTheOtherProblems() throws {
        let error = try #require(throws: SettingsError.self) {
            try WorkerSettings(environment: ["STOCKROOM_DB_PASSWORD_FILE": "/nonexistent", "STOCKROOM_WORKER_BATCH": "0"])
        }
        #expect(error.problems.count == 2)
    }
}
