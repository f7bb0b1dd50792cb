// Clang thread-safety annotations (https://clang.llvm.org/docs/ThreadSafetyAnalysis.html): the
// compiler checks that a member marked GUARDED_BY(mu_) is touched only with mu_ held, and that a
// function marked REQUIRES(mu_) is called only with it held. Other compilers ignore them.
// Checked by every clang build of the tree (-Wthread-safety, an error; see CMakeLists.txt).
#pragma once

#if defined(__clang__)
#define PORTRAIT_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define PORTRAIT_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) PORTRAIT_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY PORTRAIT_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) PORTRAIT_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) PORTRAIT_THREAD_ANNOTATION(pt_guarded_by(x))
#define REQUIRES(...) PORTRAIT_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define ACQUIRE(...) PORTRAIT_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) PORTRAIT_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) PORTRAIT_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define EXCLUDES(...) PORTRAIT_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) PORTRAIT_THREAD_ANNOTATION(assert_capability(x))
#define NO_THREAD_SAFETY_ANALYSIS PORTRAIT_THREAD_ANNOTATION(no_thread_safety_analysis)
