import Foundation
import PackagePlugin

/// Writes `git describe --tags --always --dirty` of the package into a Swift file of the target it
/// is applied to, before every build (`StockroomVersion.current`). Outside a git checkout, or
/// without git, the version is "unknown". The file is rewritten only when the text changes, so an
/// unchanged version compiles nothing again.
@main
struct BuildVersion: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appending(path: "Generated")
        let script = #"""
            set -eu
            mkdir -p "$2"
            version=$(git -C "$1" describe --tags --always --dirty 2>/dev/null | tr -cd 'A-Za-z0-9._+-') || true
            line="let buildVersion = \"${version:-unknown}\""
            file="$2/BuildVersion.swift"
            if [ ! -f "$file" ] || [ "$(cat "$file")" != "$line" ]; then printf '%s\n' "$line" >"$file"; fi
            """#
        return [
            .prebuildCommand(
                displayName: "Stamping the git describe of the build into \(target.name)",
                executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: ["-c", script, "build-version", context.package.directoryURL.path, output.path],
                outputFilesDirectory: output),
        ]
    }
}
