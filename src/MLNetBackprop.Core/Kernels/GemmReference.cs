using System.Numerics;

namespace MLNetBackprop.Core.Kernels;

/// <summary>
/// The naive triple loop, kept as the reference that the fast kernels are tested against.
/// Accumulates in double whatever T is.
/// </summary>
internal static class GemmReference
{
    public static void Multiply<T>(
        bool transA, bool transB, int m, int n, int k, T alpha,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb,
        T beta, Span<T> c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        double al = double.CreateTruncating(alpha), be = double.CreateTruncating(beta);
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                {
                    T x = transA ? a[p * lda + i] : a[i * lda + p];
                    T y = transB ? b[j * ldb + p] : b[p * ldb + j];
                    sum += double.CreateTruncating(x) * double.CreateTruncating(y);
                }
                double old = be == 0 ? 0 : be * double.CreateTruncating(c[i * ldc + j]);
                c[i * ldc + j] = T.CreateTruncating(al * sum + old);
            }
        }
    }
}
