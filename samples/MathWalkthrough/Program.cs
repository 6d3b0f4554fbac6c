// MathWalkthrough: the backpropagation derivation, checked with numbers.
// Run with: dotnet run -c Release --project samples/MathWalkthrough
using MLNetBackprop.Core;
using MLNetBackprop.Core.Diagnostics;
using MLNetBackprop.Core.Optimizers;

Section("1. One example through a 2-2-1 sigmoid network");
// Layer 1 is the input x, layer 2 the hidden layer, layer 3 the output (1-based, as in the derivation).
// In code, Weights(0) is W^(1) (layer 1 → 2) and Weights(1) is W^(2) (layer 2 → 3).
var net = new NeuralNetwork<double>([2, 2, 1], [Activation.Sigmoid, Activation.Sigmoid]);
new double[] { 0.15, 0.20, 0.25, 0.30 }.CopyTo(net.Weights(0));
net.Biases(0).Fill(0.35);
new double[] { 0.40, 0.45 }.CopyTo(net.Weights(1));
net.Biases(1).Fill(0.60);
const double lambda = 0.01;
var one = TrainingData<double>.FromDense([0.05, 0.10], 2, [0.01], 1);
var ws = new NetworkWorkspace<double>(net, 1);
var grad = new double[net.ParameterCount];
double j = Backpropagation.CostAndGradient(net, one, LossFunction.SquaredError, new Regularization(lambda), grad, ws);
Console.WriteLine($"x = (0.05, 0.10), y = 0.01, λ = {lambda}");
Console.WriteLine($"z^(2) = W^(1) x + b^(1) = ({ws.Z(1)[0]:F6}, {ws.Z(1)[1]:F6})    a^(2) = f(z^(2)) = ({ws.A(1)[0]:F6}, {ws.A(1)[1]:F6})");
Console.WriteLine($"z^(3) = W^(2) a^(2) + b^(2) = {ws.Z(2)[0]:F6}             a^(3) = h(x) = {ws.A(2)[0]:F6}");
Console.WriteLine($"J = ½(h − y)² + (λ/2)ΣW² = {j:F8}");
Console.WriteLine($"δ^(3) = −(y − a^(3)) f'(z^(3)) = {ws.Delta(2)[0]:F8}");
Console.WriteLine($"δ^(2) = (W^(2))ᵀ δ^(3) ⊙ f'(z^(2)) = ({ws.Delta(1)[0]:F8}, {ws.Delta(1)[1]:F8})");
var check = GradientCheck.Run(net, one, LossFunction.SquaredError, new Regularization(lambda));
string[] names = ["W^(1)_11", "W^(1)_12", "W^(1)_21", "W^(1)_22", "b^(1)_1", "b^(1)_2", "W^(2)_11", "W^(2)_12", "b^(2)_1"];
Console.WriteLine();
Console.WriteLine($"{"parameter",-10} {"backprop ∂J/∂θ",18} {"finite difference",18} {"difference",12}");
for (int i = 0; i < names.Length; i++)
    Console.WriteLine($"{names[i],-10} {check.Analytic[i],18:F12} {check.Numeric[i],18:F12} {check.Analytic[i] - check.Numeric[i],12:E1}");
Console.WriteLine($"relative error ‖g − g_fd‖ / ‖g + g_fd‖ = {check.RelativeError:E2} (correct backprop agrees to many digits)");

Section("2. Multiplying J by a constant does not move its minimiser");
// Minimise c·J for several c by L-BFGS (whose steps do not depend on the scale) and compare the minimisers.
var rng = new Random(1);
var (x, y) = NoisyData(rng, 40);
var data = TrainingData<double>.FromDense(x, 1, y, 1);
var start = NeuralNetwork<double>.Create(1, [3], 1, Activation.Tanh, Activation.Identity, seed: 2);
double[]? reference = null;
foreach (double c in new[] { 1.0, 2.0, 0.5, 100.0 })
{
    var m = start.Clone();
    var gTmp = new double[m.ParameterCount];
    double ScaledCost(ReadOnlySpan<double> theta, Span<double> g)
    {
        theta.CopyTo(m.Parameters);
        double value = Backpropagation.CostAndGradient(m, data, LossFunction.SquaredError, new Regularization(0.1), gTmp);
        for (int i = 0; i < g.Length; i++) g[i] = c * gTmp[i];
        return c * value;
    }
    var theta = Minimise(ScaledCost, start.Parameters.ToArray());
    reference ??= theta;
    double distance = Math.Sqrt(theta.Zip(reference, (a, b) => (a - b) * (a - b)).Sum());
    Console.WriteLine($"c = {c,6}: minimiser θ* = [{string.Join(", ", theta.Take(4).Select(v => v.ToString("F5")))}, …]  ‖θ* − θ*(c=1)‖ = {distance:E1}");
}
Console.WriteLine("The ½ only makes the derivative of ½(h − y)² come out as (h − y); the minimiser is the same.");

Section("3. Averaging over m makes the gradient, and a good α, independent of the data size");
var small = NeuralNetwork<double>.Create(1, [3], 1, Activation.Tanh, Activation.Identity, seed: 3);
foreach (int m in new[] { 100, 1_000, 10_000 })
{
    var (xm, ym) = NoisyData(new Random(m), m);
    var g = new double[small.ParameterCount];
    Backpropagation.CostAndGradient(small, TrainingData<double>.FromDense(xm, 1, ym, 1), LossFunction.SquaredError, Regularization.None, g);
    double norm = Math.Sqrt(g.Sum(v => v * v));
    Console.WriteLine($"m = {m,6}: ‖∂J/∂θ‖ = {norm:F4}   (a summed cost would give ≈ {norm * m:F1})");
}
foreach (int m in new[] { 100, 10_000 })
{
    var (xm, ym) = NoisyData(new Random(m + 1), m);
    var trained = NeuralNetwork<double>.Create(1, [3], 1, Activation.Tanh, Activation.Identity, seed: 3);
    var r = NetworkTrainer.Train(trained, TrainingData<double>.FromDense(xm, 1, ym, 1),
        new TrainingOptions { LearningRate = 0.3, MaxEpochs = 300, Tolerance = 0, L2Regularization = 0 });
    Console.WriteLine($"m = {m,6}: gradient descent with the same α = 0.3 for 300 steps reaches J = {r.History.Epochs[^1].TrainingLoss:F4}");
}

Section("4. Weight decay λ: train and test error on a small noisy data set");
var (xTrain, yTrain) = NoisyData(new Random(10), 15);
var (xTest, yTest) = NoisyData(new Random(11), 500);
var train = TrainingData<double>.FromDense(xTrain, 1, yTrain, 1);
var test = TrainingData<double>.FromDense(xTest, 1, yTest, 1);
Console.WriteLine($"{"λ",8} {"train MSE",10} {"test MSE",10} {"‖W‖",8}");
foreach (double l in new[] { 0.0, 1e-4, 1e-3, 1e-2, 0.03, 0.1, 1.0 })
{
    var m = NeuralNetwork<double>.Create(1, [30], 1, Activation.Tanh, Activation.Identity, seed: 4);
    NetworkTrainer.Train(m, train, new TrainingOptions { Optimizer = OptimizerKind.Lbfgs, L2Regularization = l, MaxEpochs = 2000, Tolerance = 1e-10, NoImprovementEpochs = 50 });
    double trainMse = 2 * Backpropagation.Cost(m, train, LossFunction.SquaredError, Regularization.None);
    double testMse = 2 * Backpropagation.Cost(m, test, LossFunction.SquaredError, Regularization.None);
    double wNorm = Math.Sqrt(Enumerable.Range(0, m.WeightLayerCount).Sum(i => m.Weights(i).ToArray().Sum(v => v * v)));
    Console.WriteLine($"{l,8} {trainMse,10:F4} {testMse,10:F4} {wNorm,8:F2}");
}
Console.WriteLine("Without λ the 30-unit network fits the 15 noisy points (low train error, high test error);");
Console.WriteLine("a moderate λ trades a little train error for a lower test error; a huge λ underfits.");

static (double[] X, double[] Y) NoisyData(Random rng, int n)
{
    var xs = new double[n];
    var ys = new double[n];
    for (int i = 0; i < n; i++)
    {
        xs[i] = rng.NextDouble() * 2 - 1;
        ys[i] = Math.Sin(3 * xs[i]) + 0.3 * (rng.NextDouble() - 0.5) * 2;
    }
    return (xs, ys);
}

static double[] Minimise(Lbfgs.Objective f, double[] x0)
{
    var solver = new Lbfgs(f, x0, memory: 10);
    for (int i = 0; i < 1000 && solver.Iterate(); i++) { }
    return solver.X;
}

static void Section(string title)
{
    Console.WriteLine();
    Console.WriteLine(title);
    Console.WriteLine(new string('-', title.Length));
}
