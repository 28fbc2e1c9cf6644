public enum RecognitionPlaceholder {}
