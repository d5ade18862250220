const { DynamoDBClient, PutItemCommand, ScanCommand } = require("@aws-sdk/client-dynamodb");
const client = new DynamoDBClient({});

exports.handler = async (event) => {
  await client.send(new PutItemCommand({
    TableName: process.env.TABLE,
    Item: { id: { S: String(Date.now()) + Math.random() }, path: { S: event.path || "" } },
  }));
  const { Count } = await client.send(new ScanCommand({ TableName: process.env.TABLE, Select: "COUNT" }));
  return { statusCode: 200, body: JSON.stringify({ visits: Count }) };
};
