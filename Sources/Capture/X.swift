public enum CapturePlaceholder {}
