namespace MLNetBackprop.Core.Optimizers;

/// <summary>
/// Limited-memory BFGS (Nocedal and Wright, Numerical Optimization, 2nd ed., algorithms 7.4 and 7.5) with a line
/// search that satisfies the strong Wolfe conditions (algorithms 3.5 and 3.6). Works on a flat double vector;
/// the caller supplies f(x) and ∇f(x). One call to <see cref="Iterate"/> is one quasi-Newton step.
/// </summary>
public sealed class Lbfgs
{
    /// <summary>f(x), writing ∇f(x) into the second argument.</summary>
    public delegate double Objective(ReadOnlySpan<double> x, Span<double> gradient);

    private const double C1 = 1e-4, C2 = 0.9;
    private const int MaxLineSearchEvaluations = 25;

    private readonly Objective _f;
    private readonly int _n, _memory;
    private readonly double[][] _s, _y;
    private readonly double[] _rho, _alpha;
    private readonly double[] _d, _xTrial, _gTrial, _xBest, _gBest;
    private int _stored, _head, _iteration;

    /// <summary>Starts at <paramref name="x0"/> (copied) and evaluates f there once.</summary>
    /// <param name="f">The objective and its gradient.</param>
    /// <param name="x0">The starting point.</param>
    /// <param name="memory">How many curvature pairs (s, y) to keep; 5–20 is usual.</param>
    public Lbfgs(Objective f, double[] x0, int memory)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(x0);
        ArgumentOutOfRangeException.ThrowIfLessThan(memory, 1);
        _f = f;
        _n = x0.Length;
        _memory = memory;
        _s = new double[memory][];
        _y = new double[memory][];
        for (int i = 0; i < memory; i++) { _s[i] = new double[_n]; _y[i] = new double[_n]; }
        _rho = new double[memory];
        _alpha = new double[memory];
        _d = new double[_n];
        _xTrial = new double[_n];
        _gTrial = new double[_n];
        _xBest = new double[_n];
        _gBest = new double[_n];
        X = (double[])x0.Clone();
        G = new double[_n];
        F = Evaluate(X, G);
    }

    /// <summary>The current point.</summary>
    public double[] X { get; }

    /// <summary>f at the current point.</summary>
    public double F { get; private set; }

    /// <summary>∇f at the current point.</summary>
    public double[] G { get; }

    /// <summary>Number of evaluations of f and ∇f so far (each evaluation gives both).</summary>
    public int Evaluations { get; private set; }

    private double Evaluate(ReadOnlySpan<double> x, Span<double> g)
    {
        Evaluations++;
        return _f(x, g);
    }

    /// <summary>
    /// One step: search direction by the two-loop recursion, then a strong-Wolfe line search. Returns false when
    /// no step decreasing f could be found (f is at a minimum to within rounding, or not smooth there).
    /// A non-finite f during the search is treated as "too far" and the step shrunk.
    /// </summary>
    /// <param name="maxEvaluations">Total evaluations (over the whole run) the line search may not exceed.</param>
    public bool Iterate(int maxEvaluations = int.MaxValue)
    {
        Direction();
        double dphi0 = Dot(G, _d);
        if (!(dphi0 < 0))
        {
            // Not a descent direction (the curvature pairs went stale): restart from steepest descent.
            _stored = 0;
            for (int i = 0; i < _n; i++) _d[i] = -G[i];
            dphi0 = Dot(G, _d);
            if (!(dphi0 < 0)) return false;
        }
        // First step: unit length along −g (scale-invariant: multiplying f by a constant changes nothing); then the
        // quasi-Newton step of length 1.
        double initial = _iteration == 0 ? 1.0 / Math.Sqrt(-dphi0) : 1.0;
        double fOld = F;
        if (!LineSearch(fOld, dphi0, initial, maxEvaluations, out double step, out double fNew))
            return false;

        // s = x_new − x, y = g_new − g; keep the pair if the curvature condition sᵀy > 0 holds.
        var s = _s[_head];
        var y = _y[_head];
        for (int i = 0; i < _n; i++)
        {
            s[i] = step * _d[i];
            y[i] = _gBest[i] - G[i];
        }
        double sy = Dot(s, y);
        if (sy > 1e-12 * Math.Sqrt(Dot(s, s) * Dot(y, y)))
        {
            _rho[_head] = 1 / sy;
            _head = (_head + 1) % _memory;
            _stored = Math.Min(_stored + 1, _memory);
        }
        _xBest.CopyTo(X, 0);
        _gBest.CopyTo(G, 0);
        F = fNew;
        _iteration++;
        return true;
    }

    /// <summary>d = −H g by the two-loop recursion, with H₀ = (sᵀy / yᵀy) I from the newest pair.</summary>
    private void Direction()
    {
        for (int i = 0; i < _n; i++) _d[i] = -G[i];
        if (_stored == 0) return;
        for (int k = 0; k < _stored; k++)
        {
            int j = (_head - 1 - k + _memory) % _memory;
            _alpha[j] = _rho[j] * Dot(_s[j], _d);
            Axpy(-_alpha[j], _y[j], _d);
        }
        int newest = (_head - 1 + _memory) % _memory;
        double gamma = 1 / (_rho[newest] * Dot(_y[newest], _y[newest]));
        for (int i = 0; i < _n; i++) _d[i] *= gamma;
        for (int k = _stored - 1; k >= 0; k--)
        {
            int j = (_head - 1 - k + _memory) % _memory;
            double beta = _rho[j] * Dot(_y[j], _d);
            Axpy(_alpha[j] - beta, _s[j], _d);
        }
    }

    /// <summary>φ(α) = f(x + α d): returns φ and writes φ'(α) = ∇f(x + α d)·d.</summary>
    private double Phi(double alpha, out double dphi)
    {
        for (int i = 0; i < _n; i++) _xTrial[i] = X[i] + alpha * _d[i];
        double f = Evaluate(_xTrial, _gTrial);
        dphi = double.IsFinite(f) ? Dot(_gTrial, _d) : double.NaN;
        return f;
    }

    private void KeepTrial()
    {
        _xTrial.CopyTo(_xBest, 0);
        _gTrial.CopyTo(_gBest, 0);
    }

    private bool LineSearch(double phi0, double dphi0, double alpha1, int maxEvaluations, out double step, out double fNew)
    {
        double alphaPrev = 0, phiPrev = phi0, dphiPrev = dphi0;
        double alpha = alpha1;
        int budget = Math.Min(MaxLineSearchEvaluations, maxEvaluations - Evaluations);
        for (int i = 0; budget > 0; i++)
        {
            double phi = Phi(alpha, out double dphi);
            budget--;
            if (!double.IsFinite(phi) || !double.IsFinite(dphi))
            {
                // Overflow: the step is far too long. Shrink towards the last good point.
                alpha = alphaPrev + (alpha - alphaPrev) * 0.1;
                continue;
            }
            if (phi > phi0 + C1 * alpha * dphi0 || (i > 0 && phi >= phiPrev))
                return Zoom(alphaPrev, phiPrev, dphiPrev, alpha, phi, dphi, phi0, dphi0, ref budget, out step, out fNew);
            if (Math.Abs(dphi) <= -C2 * dphi0)
            {
                KeepTrial();
                step = alpha;
                fNew = phi;
                return true;
            }
            if (dphi >= 0)
                return Zoom(alpha, phi, dphi, alphaPrev, phiPrev, dphiPrev, phi0, dphi0, ref budget, out step, out fNew, loIsTrial: true);
            // Still descending: remember this point and extrapolate.
            KeepTrial();
            alphaPrev = alpha; phiPrev = phi; dphiPrev = dphi;
            alpha *= 2;
        }
        return Fallback(alphaPrev, phiPrev, phi0, out step, out fNew);
    }

    private bool Zoom(double lo, double phiLo, double dphiLo, double hi, double phiHi, double dphiHi,
        double phi0, double dphi0, ref int budget, out double step, out double fNew, bool loIsTrial = false)
    {
        if (loIsTrial) KeepTrial();
        while (budget > 0)
        {
            double alpha = Interpolate(lo, phiLo, dphiLo, hi, phiHi, dphiHi);
            double phi = Phi(alpha, out double dphi);
            budget--;
            if (!double.IsFinite(phi) || phi > phi0 + C1 * alpha * dphi0 || phi >= phiLo)
            {
                hi = alpha;
                phiHi = double.IsFinite(phi) ? phi : double.MaxValue;
                dphiHi = double.IsFinite(dphi) ? dphi : 0;
            }
            else
            {
                KeepTrial();
                if (Math.Abs(dphi) <= -C2 * dphi0)
                {
                    step = alpha;
                    fNew = phi;
                    return true;
                }
                if (dphi * (hi - lo) >= 0) { hi = lo; phiHi = phiLo; dphiHi = dphiLo; }
                lo = alpha; phiLo = phi; dphiLo = dphi;
            }
            if (Math.Abs(hi - lo) < 1e-16 * Math.Max(1, Math.Abs(lo))) break;
        }
        return Fallback(lo, phiLo, phi0, out step, out fNew);
    }

    /// <summary>Out of budget: accept the best point seen if it decreased f (its gradient is in _gBest).</summary>
    private static bool Fallback(double lo, double phiLo, double phi0, out double step, out double fNew)
    {
        step = lo;
        fNew = phiLo;
        return lo > 0 && phiLo < phi0;
    }

    /// <summary>Minimiser of the cubic through both end points' values and slopes, safeguarded into the middle of the interval.</summary>
    private static double Interpolate(double a, double fa, double ga, double b, double fb, double gb)
    {
        double lo = Math.Min(a, b), hi = Math.Max(a, b), width = hi - lo;
        double d1 = ga + gb - 3 * (fa - fb) / (a - b);
        double disc = d1 * d1 - ga * gb;
        double x = double.NaN;
        if (disc >= 0 && double.IsFinite(fb))
        {
            double d2 = Math.Sign(b - a) * Math.Sqrt(disc);
            x = b - (b - a) * (gb + d2 - d1) / (gb - ga + 2 * d2);
        }
        if (!double.IsFinite(x) || x < lo + 0.1 * width || x > hi - 0.1 * width) x = lo + 0.5 * width;
        return x;
    }

    private static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    private static void Axpy(double alpha, ReadOnlySpan<double> x, Span<double> y)
    {
        for (int i = 0; i < y.Length; i++) y[i] += alpha * x[i];
    }
}
