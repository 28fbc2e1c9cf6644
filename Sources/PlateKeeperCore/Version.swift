/// The release of PlateKeeper, defined once: `platekeeper --version`, the status document and
/// the man pages' headers all say this (a test checks the man pages against it).
public enum PlateKeeperVersion {
    public static let current = "0.4.0"
}
