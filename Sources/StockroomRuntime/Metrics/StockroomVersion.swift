/// The version of this build: `git describe --tags --always --dirty` of the checkout it was built
/// from (e.g. `v1.4.0`, `v1.4.0-3-g1a2b3c4`, `1a2b3c4-dirty`), or "unknown" outside a git checkout.
/// Stamped by the BuildVersion plugin (Plugins/BuildVersion) before every build; the one place
/// every program (metrics, `--version`) takes it from.
public enum StockroomVersion {
    public static let current: String = buildVersion
}
