module gorohog

go 1.22
