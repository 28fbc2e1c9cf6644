import PlateKeeperCLI
#if canImport(Glibc)
import Glibc
#endif

// Tesseract's OpenMP threads spin-wait and make every OCR call 4x slower on a busy 2-core
// unit. libgomp reads OMP_THREAD_LIMIT when it is loaded, before main runs, so if it is not
// set we set it and re-execute ourselves once.
if getenv("OMP_THREAD_LIMIT") == nil {
    setenv("OMP_THREAD_LIMIT", "1", 1)
    execv("/proc/self/exe", CommandLine.unsafeArgv)
    // execv only returns on failure: carry on, slower.
}

await PlateKeeperCommand.entry()
