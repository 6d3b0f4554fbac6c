using System.Numerics;

namespace MLNetBackprop.Core.Kernels;

/// <summary>
/// General matrix multiply on row-major storage: C = alpha · op(A) · op(B) + beta · C, where op(X) is X or Xᵀ.
/// This is the only place the network's matrix products happen. (First version: the reference loop.)
/// </summary>
internal static class Gemm
{
    public static void Multiply<T>(
        bool transA, bool transB, int m, int n, int k, T alpha,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb,
        T beta, Span<T> c, int ldc, int maxThreads = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        GemmReference.Multiply(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }
}
