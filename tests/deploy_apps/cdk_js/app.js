// A function behind a REST API, writing to a table: a small CDK app as `cdk init` users write.
const cdk = require("aws-cdk-lib");
const lambda = require("aws-cdk-lib/aws-lambda");
const dynamodb = require("aws-cdk-lib/aws-dynamodb");
const apigateway = require("aws-cdk-lib/aws-apigateway");

class VisitsStack extends cdk.Stack {
  constructor(scope, id, props) {
    super(scope, id, props);
    const table = new dynamodb.Table(this, "Visits", {
      partitionKey: { name: "id", type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      removalPolicy: cdk.RemovalPolicy.DESTROY,
    });
    const fn = new lambda.Function(this, "Counter", {
      runtime: lambda.Runtime.NODEJS_20_X,
      handler: "index.handler",
      code: lambda.Code.fromAsset(`${__dirname}/handler`),
      environment: { TABLE: table.tableName },
    });
    table.grantReadWriteData(fn);
    const api = new apigateway.LambdaRestApi(this, "Api", { handler: fn });
    new cdk.CfnOutput(this, "ApiUrl", { value: api.url });
    new cdk.CfnOutput(this, "TableName", { value: table.tableName });
    new cdk.CfnOutput(this, "FunctionName", { value: fn.functionName });
  }
}

const app = new cdk.App();
new VisitsStack(app, process.env.STACK_NAME || "CdkVisits", {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
