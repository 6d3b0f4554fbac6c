// WebApi: MLNetBackprop behind ASP.NET Core, the way ML.NET models are usually deployed. POST /predict takes a JSON
// array of houses and answers their predicted values; GET /health answers the model version. Without a model file it
// first trains one on the bundled housing data and saves it. Run with:
//   dotnet run -c Release --project samples/WebApi -- --urls http://127.0.0.1:5000
// and try it with:
//   curl -s localhost:5000/predict -H 'Content-Type: application/json' -d @samples/WebApi/house.json
WebApi.PredictionApi.Create(args).Run();
