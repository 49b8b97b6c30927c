import Foundation
import PackagePlugin

/// Writes `git describe --tags --always --dirty` of the package into a Swift file of the target it
/// is applied to (`StockroomVersion.current`). Outside a git checkout, or without git, the version
/// is "unknown". The file is rewritten only when the text changes, so an unchanged version compiles
/// nothing again.
///
/// A build command, not a prebuild command: SwiftPM runs a prebuild command only when it plans the
/// build (a fresh checkout, a file added or removed, Package.swift changed), so a commit or an edit
/// left the previous version in the binaries. This command's inputs are what `git describe` reads:
/// the checkout's HEAD, its reflog, index and refs, and every tracked file (for `-dirty`), so the
/// build runs it again whenever one of them changed, and only then.
@main
struct BuildVersion: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let package = context.package.directoryURL
        let output = context.pluginWorkDirectoryURL.appending(path: "Generated").appending(path: "BuildVersion.swift")
        let script = #"""
            set -eu
            mkdir -p "$(dirname "$2")"
            version=$(git -C "$1" describe --tags --always --dirty 2>/dev/null | tr -cd 'A-Za-z0-9._+-') || true
            line="let buildVersion = \"${version:-unknown}\""
            if [ ! -f "$2" ] || [ "$(cat "$2")" != "$line" ]; then printf '%s\n' "$line" >"$2"; fi
            """#
        return [
            .buildCommand(
                displayName: "Stamping the git describe of the build into \(target.name)",
                executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: ["-c", script, "build-version", package.path, output.path],
                inputFiles: Self.gitInputs(package: package),
                outputFiles: [output]),
        ]
    }

    /// The files whose change can change `git describe --dirty`; none outside a git checkout (the
    /// command then runs once, and says "unknown").
    static func gitInputs(package: URL) -> [URL] {
        guard let directories = git(["rev-parse", "--absolute-git-dir", "--git-common-dir"], in: package)?
            .split(separator: "\n").map(String.init), directories.count == 2 else { return [] }
        let gitDirectory = URL(fileURLWithPath: directories[0])
        let common = URL(fileURLWithPath: directories[1], relativeTo: package)
        var inputs = [
            gitDirectory.appending(path: "HEAD"), gitDirectory.appending(path: "index"),
            gitDirectory.appending(path: "logs").appending(path: "HEAD"), common.appending(path: "packed-refs"),
        ]
        if let branch = git(["symbolic-ref", "-q", "HEAD"], in: package)?.trimmingCharacters(in: .newlines), !branch.isEmpty {
            inputs.append(common.appending(path: branch))
        }
        let tracked = git(["ls-files", "-z"], in: package)?.split(separator: "\0") ?? []
        inputs += tracked.map { package.appending(path: String($0)) }
        return inputs.filter { FileManager.default.fileExists(atPath: $0.path) }
    }

    static func git(_ arguments: [String], in directory: URL) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", directory.path] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return nil
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}
